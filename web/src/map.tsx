import { useEffect, useState } from 'preact/hooks';
import { getJson, params, UNKNOWN, type Filters, type ServiceMap } from './api';

type MapNode = ServiceMap['nodes'][number];

const pct = (r: number) => `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}%`;
const W = 200;
const H = 34;
const GAP = 22;
const STRIDE = W + 130;

/**
 * A layered drawing: (clients) on the left, each service one column right of its furthest
 * recorded caller, the hosts called on the right. Click a service to list its calls.
 */
function layout(m: ServiceMap): Map<string, { x: number; y: number }> {
  const depth = new Map<string, number>();
  for (const n of m.nodes) if (n.kind === 'service') depth.set(n.id, 1);
  // Longest path from the callers (bounded by the number of services, so cycles end).
  for (let round = 0; round < m.nodes.length; round++) {
    let moved = false;
    for (const e of m.edges) {
      const a = depth.get(e.from);
      const b = depth.get(e.to);
      if (a !== undefined && b !== undefined && b < a + 1 && a + 1 <= m.nodes.length) {
        depth.set(e.to, a + 1);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const last = Math.max(1, ...depth.values()) + 1;
  const col = (n: MapNode) => (n.kind === 'clients' ? 0 : n.kind === 'service' ? depth.get(n.id)! : last);
  const rows = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of m.nodes) {
    const c = col(n);
    const r = rows.get(c) ?? 0;
    pos.set(n.id, { x: 10 + c * STRIDE, y: 10 + r * (H + GAP) });
    rows.set(c, r + 1);
  }
  return pos;
}

function Graph(props: { m: ServiceMap; onFollow(patch: Partial<Filters>): void }) {
  const { m } = props;
  const pos = layout(m);
  const width = Math.max(...[...pos.values()].map((p) => p.x)) + W + 10;
  const height = Math.max(...[...pos.values()].map((p) => p.y)) + H + 10;
  return (
    <svg class="graph" data-testid="graph" viewBox={`0 0 ${width} ${height}`} width="100%" style={{ maxWidth: `${width}px` }}>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#888" />
        </marker>
      </defs>
      {m.edges.map((e) => {
        const a = pos.get(e.from)!;
        const b = pos.get(e.to)!;
        const back = b.x <= a.x;
        const x1 = a.x + W, y1 = a.y + H / 2;
        const x2 = back ? b.x + W : b.x, y2 = b.y + H / 2;
        const d = back ? `M${x1},${y1} C${x1 + 90},${y1} ${x2 + 90},${y2} ${x2},${y2}` : `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
        const lx = back ? x1 + 70 : x2 - 8;
        const ly = back ? (y1 + y2) / 2 : y2 - 8;
        return (
          <g class={`edge ${e.errors ? 'haserr' : ''}`} data-testid="edge" data-from={e.from} data-to={e.to} onClick={() => e.from !== '(clients)' && props.onFollow({ service: e.from, direction: 'OUT' })}>
            <path d={d} fill="none" marker-end="url(#arrow)" stroke-width={1 + Math.min(5, Math.log10(e.calls + 1) * 1.5)} />
            <text x={lx} y={ly} text-anchor={back ? 'middle' : 'end'}>{`${e.calls} calls · ${pct(e.error_rate)} err`}</text>
          </g>
        );
      })}
      {m.nodes.map((n) => {
        const p = pos.get(n.id)!;
        return (
          <g class={`node ${n.kind}`} data-testid={`node-${n.kind}`} data-id={n.id} onClick={() => n.kind === 'service' && props.onFollow({ service: n.id, direction: '' })}>
            <rect x={p.x} y={p.y} width={W} height={H} rx="6" />
            <text x={p.x + 10} y={p.y + 21}>{n.id.length > 26 ? n.id.slice(0, 25) + '…' : n.id}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function MapScreen(props: { filters: Filters; onFollow(patch: Partial<Filters>): void; onError(e: unknown): void }) {
  const [m, setM] = useState<ServiceMap>();
  const [err, setErr] = useState('');
  useEffect(() => {
    setM(undefined);
    getJson<ServiceMap>(`/api/v1/explore/servicemap?${params(props.filters)}`).then(setM, (e) => { setErr((e as Error).message); props.onError(e); });
  }, [props.filters]);
  if (err) return <p class="error" data-testid="error">{err}</p>;
  if (!m) return <p>Reading the calls…</p>;
  return (
    <section class="map" data-testid="map">
      <p class="summary">{m.total.toLocaleString('en')} calls{m.truncated ? ' (cut at scan_limit)' : ''}. Inbound calls come from <b>(clients)</b>; outbound calls go to the hosts called, drawn as a service when that service's inbound traffic is recorded too. Click a service to list its calls.</p>
      {m.edges.length ? <Graph m={m} onFollow={props.onFollow} /> : <p class="empty">No calls in this range.</p>}
      <div class="tables">
        <table data-testid="protocols">
          <caption>Protocols</caption>
          <thead><tr><th>protocol</th><th>calls</th><th>errors</th></tr></thead>
          <tbody>{m.protocols.map((p) => <tr data-testid="protocol-row" data-protocol={p.l7protocol}><td>{p.l7protocol === UNKNOWN ? p.l7protocol : <a href="#" onClick={(e) => { e.preventDefault(); props.onFollow({ protocol: p.l7protocol }); }}>{p.l7protocol}</a>}</td><td class="num">{p.calls}</td><td class="num">{pct(p.calls ? p.errors / p.calls : 0)}</td></tr>)}</tbody>
        </table>
        <table data-testid="technologies">
          <caption>Technologies: what the services call</caption>
          <thead><tr><th>host</th><th>protocol</th><th>calls</th><th>called by</th></tr></thead>
          <tbody>{m.technologies.map((t) => <tr><td>{t.host}</td><td>{t.l7protocol}</td><td class="num">{t.calls}</td><td>{t.services.join(', ')}</td></tr>)}</tbody>
        </table>
        <table data-testid="edges">
          <caption>Calls</caption>
          <thead><tr><th>from</th><th>to</th><th>calls</th><th>error rate</th><th>protocols</th></tr></thead>
          <tbody>{m.edges.map((e) => <tr data-testid="edge-row"><td>{e.from}</td><td>{e.to}</td><td class="num">{e.calls}</td><td class="num">{pct(e.error_rate)}</td><td>{e.protocols.join(', ')}</td></tr>)}</tbody>
        </table>
      </div>
    </section>
  );
}
