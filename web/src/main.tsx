import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AuthNeeded, EMPTY, token, type Filters } from './api';
import { FindScreen } from './find';
import { ReadScreen } from './read';
import { MapScreen } from './map';
import { ExportScreen } from './export';
import './style.css';

type Tab = 'find' | 'map' | 'export';
export interface Selected {
  id: string;
  ts: string;
}

/** Page state lives in the URL hash, so a view can be bookmarked, shared and reloaded. */
function readHash(): { f: Filters; tab: Tab; sel?: Selected } {
  const q = new URLSearchParams(location.hash.slice(1));
  const f = { ...EMPTY };
  for (const k of Object.keys(EMPTY) as (keyof Filters)[]) {
    const v = q.get(k);
    if (v !== null) f[k] = v;
  }
  const tab = (['find', 'map', 'export'].includes(q.get('tab') ?? '') ? q.get('tab') : 'find') as Tab;
  const id = q.get('id');
  const ts = q.get('ts');
  return { f, tab, ...(id && ts ? { sel: { id, ts } } : {}) };
}

function writeHash(f: Filters, tab: Tab, sel?: Selected): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== '' && v !== (EMPTY as unknown as Record<string, string>)[k]) q.set(k, v);
  q.set('tab', tab);
  if (sel) {
    q.set('id', sel.id);
    q.set('ts', sel.ts);
  }
  const h = '#' + q.toString();
  if (location.hash !== h) history.pushState(null, '', h);
}

const RANGES = ['-15m', '-1h', '-6h', '-24h', '-7d', '-30d'];

function FilterBar(props: { value: Filters; onApply(f: Filters): void }) {
  const [d, setD] = useState(props.value);
  useEffect(() => setD(props.value), [props.value]);
  const field = (k: keyof Filters, label: string, ph = '') => (
    <label>
      {label}
      <input name={k} data-testid={`filter-${k}`} value={d[k]} placeholder={ph} onInput={(e) => setD({ ...d, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <form class="filters" onSubmit={(e) => { e.preventDefault(); props.onApply(d); }}>
      <label>
        Last
        <select data-testid="range" value={RANGES.includes(d.start) && d.end === 'now' ? d.start : ''} onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v) { const n = { ...d, start: v, end: 'now' }; setD(n); props.onApply(n); } }}>
          <option value="">custom</option>
          {RANGES.map((r) => <option value={r}>{r.slice(1)}</option>)}
        </select>
      </label>
      {field('start', 'From', '-1h or 2025-03-18T00:40:00Z')}
      {field('end', 'To', 'now')}
      {field('cluster', 'Cluster')}
      {field('namespace', 'Namespace')}
      {field('service', 'Service')}
      <label>
        Direction
        <select data-testid="filter-direction" value={d.direction} onChange={(e) => setD({ ...d, direction: (e.target as HTMLSelectElement).value })}>
          <option value="">any</option>
          <option value="IN">IN</option>
          <option value="OUT">OUT</option>
        </select>
      </label>
      {field('protocol', 'Protocol', 'http, grpc, postgres')}
      {field('method', 'Command', 'regex: GET|POST')}
      {field('endpoint', 'Location', 'regex: ^/api/')}
      {field('status', 'Status', 'regex: ^5')}
      <button type="submit" data-testid="apply">Apply</button>
    </form>
  );
}

function TokenForm(props: { onDone(): void }) {
  const [t, setT] = useState('');
  return (
    <form class="token" onSubmit={(e) => { e.preventDefault(); token.set(t); props.onDone(); }}>
      <p>This rrpipe asks for a bearer token (query_api <code>bearer_token</code>). It is kept in this tab only.</p>
      <input type="password" data-testid="token" value={t} onInput={(e) => setT((e.target as HTMLInputElement).value)} autoComplete="off" />
      <button type="submit">Use token</button>
    </form>
  );
}

function App() {
  const [state, setState] = useState(readHash);
  const [auth, setAuth] = useState(false);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const on = () => setState(readHash());
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  const go = (f: Filters, tab: Tab, sel?: Selected) => {
    writeHash(f, tab, sel);
    setState({ f, tab, ...(sel ? { sel } : {}) });
  };
  const onError = (err: unknown) => { if (err instanceof AuthNeeded) setAuth(true); };
  if (auth) return <main><h1>rrpipe traffic explorer</h1><TokenForm onDone={() => { setAuth(false); setNonce(nonce + 1); }} /></main>;
  const { f, tab, sel } = state;
  return (
    <main key={nonce}>
      <header>
        <h1>rrpipe <span>traffic explorer</span></h1>
        <nav>
          {(['find', 'map', 'export'] as Tab[]).map((t) => (
            <button class={tab === t && !sel ? 'on' : ''} data-testid={`tab-${t}`} onClick={() => go(f, t)}>
              {t === 'find' ? 'Find' : t === 'map' ? 'Service map' : 'Export'}
            </button>
          ))}
        </nav>
      </header>
      <FilterBar value={f} onApply={(n) => go(n, tab === 'export' || tab === 'map' ? tab : 'find')} />
      {sel ? (
        <ReadScreen sel={sel} onBack={() => go(f, tab)} onError={onError} />
      ) : tab === 'find' ? (
        <FindScreen filters={f} onZoom={(start, end) => go({ ...f, start, end }, 'find')} onOpen={(s) => go(f, tab, s)} onError={onError} />
      ) : tab === 'map' ? (
        <MapScreen filters={f} onFollow={(patch) => go({ ...f, ...patch }, 'find')} onError={onError} />
      ) : (
        <ExportScreen filters={f} onError={onError} />
      )}
    </main>
  );
}

render(<App />, document.getElementById('app')!);
