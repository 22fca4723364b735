import { useEffect, useState } from 'preact/hooks';
import { getJson, type IndexDoc, type RRPairView as View, type SideView } from './api';
import { fmtBytes, fmtTs } from './find';
import type { Selected } from './main';

/**
 * Text with the redaction processor's markers shown as such. The server found the markers
 * (decode.ts); the page only splits on those exact strings.
 */
function Marked(props: { text: string; marks: string[] }) {
  if (!props.marks.length) return <>{props.text}</>;
  const re = new RegExp(`(${props.marks.map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`);
  const parts = props.text.split(re);
  return <>{parts.map((p, i) => (i % 2 ? <mark class="redacted" title="redacted by rrpipe">{p}</mark> : p))}</>;
}

function Side(props: { title: string; side?: SideView; testid: string; marks: string[] }) {
  const s = props.side;
  if (!s) return null;
  const b = s.body;
  return (
    <section class="side" data-testid={props.testid}>
      <h3>{props.title} <code>{s.line}</code></h3>
      <table class="headers">
        <tbody>
          {s.headers.map(([k, v]) => (
            <tr><th>{k}</th><td><Marked text={v} marks={props.marks} /></td></tr>
          ))}
        </tbody>
      </table>
      <div class="bodyinfo">
        body: {b.kind}
        {b.size ? ` · ${fmtBytes(b.size)}` : ''}
        {b.decoded.length ? ` · decoded ${b.decoded.join(' → ')}` : ''}
        {b.content_type ? ` · ${b.content_type}` : ''}
        {b.truncated ? ' · cut for display' : ''}
      </div>
      {b.error && <p class="error">{b.error}</p>}
      {b.kind !== 'empty' && <pre class={`body ${b.kind}`} data-testid={`${props.testid}-body`}><Marked text={b.text} marks={b.redactions} /></pre>}
    </section>
  );
}

export function ReadScreen(props: { sel: Selected; onBack(): void; onError(e: unknown): void }) {
  const [data, setData] = useState<{ doc: IndexDoc; from: string; view: View; rrpair: unknown }>();
  const [err, setErr] = useState('');
  useEffect(() => {
    setData(undefined);
    getJson<{ doc: IndexDoc; from: string; view: View; rrpair: unknown }>(`/api/v1/explore/rrpair/${encodeURIComponent(props.sel.id)}?ts=${encodeURIComponent(props.sel.ts)}`).then(setData, (e) => {
      setErr((e as Error).message);
      props.onError(e);
    });
  }, [props.sel.id, props.sel.ts]);
  return (
    <section class="read" data-testid="read">
      <button class="back" data-testid="back" onClick={props.onBack}>← Back to the list</button>
      {err && <p class="error" data-testid="error">{err}</p>}
      {!data && !err && <p>Fetching the full RRPair…</p>}
      {data && (
        <>
          <h2 data-testid="read-title">
            <span class="dir">{data.view.direction}</span> {data.view.command} {data.view.location} <span class={/^5/.test(data.view.status) ? 'st err' : 'st'}>{data.view.status}</span>
          </h2>
          <dl class="facts">
            <dt>time</dt><dd>{fmtTs(data.doc.ts ?? data.view.ts)}</dd>
            <dt>duration</dt><dd data-testid="duration">{data.view.duration_ms ?? '?'} ms</dd>
            <dt>service</dt><dd>{[data.view.cluster, data.view.namespace, data.view.service].filter(Boolean).join(' / ')}</dd>
            <dt>protocol</dt><dd>{data.view.l7protocol}{data.view.tech ? ` · ${data.view.tech}` : ''}</dd>
            <dt>peer</dt><dd>{data.view.network_address || data.doc.host}</dd>
            <dt>read from</dt><dd class="uri" data-testid="from">{data.from}</dd>
            {data.view.redactions.length > 0 && (<><dt>redacted</dt><dd data-testid="redactions">{data.view.redactions.length} value(s){data.view.dlp.rule ? ` · rule ${data.view.dlp.rule}` : ''}</dd></>)}
          </dl>
          <Side title="Request" side={data.view.request} testid="request" marks={data.view.redactions} />
          <Side title="Response" side={data.view.response} testid="response" marks={data.view.redactions} />
          {data.view.tokens.length > 0 && (
            <details class="tokens" data-testid="tokens">
              <summary>{data.view.tokens.length} tokens</summary>
              <pre>{JSON.stringify(data.view.tokens, null, 2)}</pre>
            </details>
          )}
          <details class="raw">
            <summary>Raw RRPair (JSON)</summary>
            <pre><Marked text={JSON.stringify(data.rrpair, null, 2)} marks={data.view.redactions} /></pre>
          </details>
        </>
      )}
    </section>
  );
}
