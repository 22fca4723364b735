import { useEffect, useState } from 'preact/hooks';
import { call, getJson, params, type Filters } from './api';

interface Command { command: string; exact: boolean; notes: string[]; export_limit: number }

export function ExportScreen(props: { filters: Filters; onError(e: unknown): void }) {
  const [format, setFormat] = useState<'raw_jsonl' | 'proxymock'>('raw_jsonl');
  const [cmd, setCmd] = useState<Command>();
  const [status, setStatus] = useState('');
  useEffect(() => {
    setCmd(undefined);
    getJson<Command>(`/api/v1/explore/command?${params(props.filters, { format })}`).then(setCmd, (e) => { setStatus((e as Error).message); props.onError(e); });
  }, [props.filters, format]);
  const download = async () => {
    setStatus('Exporting…');
    try {
      const res = await call(`/api/v1/explore/export?${params(props.filters, { format })}`);
      if (!res.ok) {
        setStatus(((await res.json()) as { error: string }).error);
        return;
      }
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'export';
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setStatus(`Exported ${res.headers.get('x-rrpipe-records')} records as ${name}`);
    } catch (e) {
      setStatus((e as Error).message);
      props.onError(e);
    }
  };
  return (
    <section class="export" data-testid="export">
      <h2>Take this selection away</h2>
      <p>The calls matching the filters above, with their full RRPairs read from the archive, written by the same code as <code>rrpipe snapshot</code>: one <code>raw.jsonl</code> ordered by time, or a proxymock snapshot directory (as .tar.gz) to replay with proxymock.</p>
      <div class="formats">
        <label><input type="radio" name="format" data-testid="format-raw" checked={format === 'raw_jsonl'} onChange={() => setFormat('raw_jsonl')} /> raw.jsonl</label>
        <label><input type="radio" name="format" data-testid="format-proxymock" checked={format === 'proxymock'} onChange={() => setFormat('proxymock')} /> proxymock snapshot (.tar.gz)</label>
      </div>
      <button data-testid="download" onClick={download}>Export {cmd ? `(up to ${cmd.export_limit.toLocaleString('en')} records)` : ''}</button>
      <p class="status" data-testid="export-status">{status}</p>
      <h3>Larger windows: from the archive</h3>
      <p>The same selection, straight from long-term storage, with no size limit:</p>
      <pre class="command" data-testid="command">{cmd?.command ?? '…'}</pre>
      {cmd?.notes.map((n) => <p class="note">{n}</p>)}
    </section>
  );
}
