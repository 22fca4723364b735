import { bucketOf, emptyAggregates, isErrorStatus, withDeadline, type AggregateGroup, type SortField, type AggregateSpec, type Aggregates, type QueryFilter, type QueryableStore } from '../../../core/query.js';
import type { IndexDoc } from '../../../core/rrpair.js';
import { tsMicros } from '../../../helpers/hot-store.js';
export { SORT_FIELDS, type SortField } from '../../../core/query.js';
import { UNKNOWN, type Histogram, type MapEdge, type MapNode, type ServiceMap } from './types.js';

/**
 * The traffic explorer's aggregations (histogram, service map) ask the store's aggregate() when it
 * has one; otherwise, and for pages sorted by a column, they work over any QueryableStore: they
 * page through the matching index documents in (ts, id) order, each page under the query deadline,
 * and fold them as they come. Regex filters were compiled by RE2 (linear time)
 * before the scan; the embedded store runs each page in its query worker. The event loop is given
 * back between pages, so ingestion, health and other requests are never held by a scan.
 */
export interface ScanOptions {
  /** Deadline of each page (the query_api `timeout`). */
  timeoutMs: number;
  /** Documents read at most; past it the answer says `truncated`. */
  maxDocs: number;
  pageSize?: number;
}

export interface ScanResult {
  scanned: number;
  truncated: boolean;
}

export async function scan(store: QueryableStore, filter: QueryFilter, o: ScanOptions, each: (doc: IndexDoc) => void): Promise<ScanResult> {
  const pageSize = Math.min(o.pageSize ?? 5_000, o.maxDocs);
  let after: string | undefined;
  let scanned = 0;
  for (;;) {
    const f: QueryFilter = { ...filter, limit: Math.min(pageSize, o.maxDocs - scanned) };
    if (after) f.after = after;
    else delete f.after;
    const page = await withDeadline(o.timeoutMs, (signal) => store.query(f, { signal }));
    for (const h of page.hits) each(h.doc);
    scanned += page.hits.length;
    if (!page.next || page.hits.length === 0) return { scanned, truncated: false };
    if (scanned >= o.maxDocs) return { scanned, truncated: true };
    after = page.next;
  }
}

/**
 * Counts over the matching records: the store's own aggregate() when it has one (SQL GROUP BY,
 * search aggregations), else a fold over scanned pages. `native` says which answered.
 */
export async function aggregate(store: QueryableStore, filter: QueryFilter, spec: AggregateSpec, o: ScanOptions): Promise<Aggregates & { native: boolean }> {
  const { after: _a, limit: _l, ...f } = filter;
  if (store.aggregate) {
    const r = await withDeadline(o.timeoutMs, (signal) => store.aggregate!(f, spec, { signal }));
    if (r) return { ...r, native: true };
  }
  return { ...(await aggregateByScan(store, f, spec, o)), native: false };
}

/** The generic aggregate(): every matching index document read, page by page, and counted. */
export async function aggregateByScan(store: QueryableStore, filter: QueryFilter, spec: AggregateSpec, o: ScanOptions): Promise<Aggregates> {
  const out = emptyAggregates(spec);
  const groups = new Map<string, AggregateGroup>();
  const r = await scan(store, filter, o, (doc) => {
    const err = isErrorStatus(doc.status);
    out.total++;
    if (spec.histogram) {
      const i = bucketOf(tsMicros(doc.ts) / 1000, spec.histogram);
      out.histogram!.counts[i]!++;
      if (err) out.histogram!.errors[i]!++;
    }
    if (spec.groups) {
      const g = { service: doc.service ?? '', direction: doc.direction ?? '', host: doc.host ?? '', l7protocol: doc.l7protocol ?? '' };
      const k = `${g.service}\u0000${g.direction}\u0000${g.host}\u0000${g.l7protocol}`;
      let acc = groups.get(k);
      if (!acc) groups.set(k, (acc = { ...g, calls: 0, errors: 0 }));
      acc.calls++;
      if (err) acc.errors++;
    }
  });
  if (spec.groups) out.groups = [...groups.values()];
  out.truncated = r.truncated;
  return out;
}

export async function histogram(store: QueryableStore, filter: QueryFilter & { start: Date; end: Date }, buckets: number, o: ScanOptions): Promise<Histogram> {
  const start = filter.start.getTime();
  const end = filter.end.getTime();
  const n = Math.max(1, Math.min(1_000, Math.floor(buckets)));
  const step = Math.max(1, Math.ceil((end - start) / n));
  const a = await aggregate(store, filter, { histogram: { start, stepMs: step, buckets: n } }, o);
  return { start, end, step_ms: step, counts: a.histogram!.counts, errors: a.histogram!.errors, total: a.total, truncated: a.truncated, native: a.native };
}

export const CLIENTS = '(clients)';

/**
 * Who calls whom, from the calls counted per (service, direction, host, protocol): an IN record is
 * a call from outside into its service (callers are not recorded on the inbound side); an OUT
 * record is a call from its service to the host it reached. A host that some service answers
 * inbound (its Host header) is drawn as that service (the one answering most of its calls).
 */
export async function serviceMap(store: QueryableStore, filter: QueryFilter, o: ScanOptions): Promise<ServiceMap> {
  const a = await aggregate(store, filter, { groups: true }, o);
  return { ...mapOf(a.groups!), total: a.total, truncated: a.truncated, native: a.native };
}

export function mapOf(groups: AggregateGroup[]): Pick<ServiceMap, 'nodes' | 'edges' | 'protocols' | 'technologies'> {
  const inbound = new Map<string, Map<string, number>>(); // host → service → IN calls
  const edges = new Map<string, MapEdge & { protoSet: Set<string> }>();
  const protocols = new Map<string, { l7protocol: string; calls: number; errors: number }>();
  const tech = new Map<string, { host: string; l7protocol: string; calls: number; services: Set<string> }>();
  const addEdge = (from: string, to: string, g: AggregateGroup) => {
    const k = `${from}\u0000${to}`;
    let e = edges.get(k);
    if (!e) edges.set(k, (e = { from, to, calls: 0, errors: 0, error_rate: 0, protocols: [], protoSet: new Set() }));
    e.calls += g.calls;
    e.errors += g.errors;
    if (g.l7protocol) e.protoSet.add(g.l7protocol);
  };
  for (const g of groups) {
    const proto = g.l7protocol || UNKNOWN;
    const p = protocols.get(proto) ?? { l7protocol: proto, calls: 0, errors: 0 };
    p.calls += g.calls;
    p.errors += g.errors;
    protocols.set(proto, p);
    const service = g.service || UNKNOWN;
    if (g.direction === 'IN') {
      if (g.host) {
        const m = inbound.get(g.host) ?? new Map<string, number>();
        m.set(service, (m.get(service) ?? 0) + g.calls);
        inbound.set(g.host, m);
      }
      addEdge(CLIENTS, service, g);
    } else if (g.direction === 'OUT') {
      const host = g.host || '(unknown host)';
      const tk = `${host}\u0000${proto}`;
      const t = tech.get(tk) ?? { host, l7protocol: proto, calls: 0, services: new Set<string>() };
      t.calls += g.calls;
      t.services.add(service);
      tech.set(tk, t);
    }
  }
  const hostService = new Map<string, string>();
  for (const [host, m] of inbound) hostService.set(host, [...m].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0]![0]);
  for (const g of groups) if (g.direction === 'OUT') addEdge(g.service || UNKNOWN, hostService.get(g.host) ?? (g.host || '(unknown host)'), g);
  // Inbound calls a recorded caller explains are drawn once, from that caller: (clients) keeps the rest.
  for (const [k, e] of edges) {
    if (e.from !== CLIENTS) continue;
    for (const o of edges.values()) {
      if (o.to !== e.to || o.from === CLIENTS) continue;
      e.calls -= o.calls;
      e.errors -= o.errors;
    }
    if (e.calls <= 0) edges.delete(k);
    else e.errors = Math.max(0, e.errors);
  }
  const nodes = new Map<string, MapNode>();
  const node = (id: string): MapNode => {
    let n = nodes.get(id);
    if (!n) nodes.set(id, (n = { id, kind: id === CLIENTS ? 'clients' : 'host', calls_in: 0, calls_out: 0 }));
    return n;
  };
  const services = new Set<string>([...hostService.values()]);
  for (const e of edges.values()) {
    if (e.from !== CLIENTS) services.add(e.from);
    if (e.from === CLIENTS) services.add(e.to);
  }
  const outEdges = [...edges.values()].map(({ protoSet, ...e }) => ({ ...e, error_rate: e.calls ? e.errors / e.calls : 0, protocols: [...protoSet].sort() }));
  for (const e of outEdges) {
    node(e.from).calls_out += e.calls;
    node(e.to).calls_in += e.calls;
  }
  for (const n of nodes.values()) if (services.has(n.id)) n.kind = 'service';
  return {
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: outEdges.sort((a, b) => b.calls - a.calls || a.from.localeCompare(b.from) || a.to.localeCompare(b.to)),
    protocols: [...protocols.values()].sort((a, b) => b.calls - a.calls || a.l7protocol.localeCompare(b.l7protocol)),
    technologies: [...tech.values()].map((t) => ({ ...t, services: [...t.services].sort() })).sort((a, b) => b.calls - a.calls || a.host.localeCompare(b.host) || a.l7protocol.localeCompare(b.l7protocol)),
  };
}

/**
 * One page of the matches ordered by a column: sorted by the store when it can (`native`), else a
 * bounded selection over a scan (only offset+limit documents are held, whatever the number of
 * matches), ties broken by (ts, id) so pages never overlap.
 */
export async function sortedPage(store: QueryableStore, filter: QueryFilter, sort: SortField, desc: boolean, offset: number, limit: number, o: ScanOptions): Promise<{ rows: IndexDoc[]; total: number; truncated: boolean; native: boolean }> {
  const { after: _a, limit: _l, ...f } = filter;
  if (store.sortedPage) {
    const r = await withDeadline(o.timeoutMs, (signal) => store.sortedPage!(f, { field: sort, desc, offset, limit }, { signal }));
    if (r) return { ...r, truncated: false, native: true };
  }
  return { ...(await sortedPageByScan(store, f, sort, desc, offset, limit, o)), native: false };
}

export async function sortedPageByScan(store: QueryableStore, filter: QueryFilter, sort: SortField, desc: boolean, offset: number, limit: number, o: ScanOptions): Promise<{ rows: IndexDoc[]; total: number; truncated: boolean }> {
  const keep = offset + limit;
  const numeric = sort === 'duration' || sort === 'req_size' || sort === 'res_size';
  const cmp = (a: IndexDoc, b: IndexDoc): number => {
    const x = a[sort] ?? (numeric ? 0 : '');
    const y = b[sort] ?? (numeric ? 0 : '');
    let c = numeric ? Number(x) - Number(y) : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
    if (desc) c = -c;
    if (c !== 0) return c;
    return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
  let held: IndexDoc[] = [];
  let total = 0;
  // Collect up to twice `keep`, then sort and cut: amortized O(n log keep) with bounded memory.
  const r = await scan(store, filter, o, (doc) => {
    total++;
    held.push(doc);
    if (held.length >= 2 * keep + 1000) held = held.sort(cmp).slice(0, keep);
  });
  held.sort(cmp);
  return { rows: held.slice(offset, keep), total, truncated: r.truncated };
}
