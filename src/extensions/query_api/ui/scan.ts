import { withDeadline, type QueryFilter, type QueryableStore } from '../../../core/query.js';
import type { IndexDoc } from '../../../core/rrpair.js';
import { tsMicros } from '../../../helpers/hot-store.js';

/**
 * The traffic explorer's aggregations (histogram, service map, sorted pages) work over any
 * QueryableStore: they page through the matching index documents in (ts, id) order, each page under
 * the query deadline, and fold them as they come. Regex filters were compiled by RE2 (linear time)
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

/** A call counts as an error when its status is a 5xx HTTP code or a non-OK gRPC status name. */
export function isError(status: string): boolean {
  if (/^\d+$/.test(status)) return Number(status) >= 500;
  return status !== '' && !/^(ok|success)$/i.test(status);
}

export interface Histogram {
  start: number;
  end: number;
  step_ms: number;
  /** Bucket i covers [start + i*step, start + (i+1)*step). */
  counts: number[];
  errors: number[];
  total: number;
  truncated: boolean;
}

export async function histogram(store: QueryableStore, filter: QueryFilter & { start: Date; end: Date }, buckets: number, o: ScanOptions): Promise<Histogram> {
  const start = filter.start.getTime();
  const end = filter.end.getTime();
  const n = Math.max(1, Math.min(1_000, Math.floor(buckets)));
  const step = Math.max(1, Math.ceil((end - start) / n));
  const counts = new Array<number>(n).fill(0);
  const errors = new Array<number>(n).fill(0);
  let total = 0;
  const r = await scan(store, filter, o, (doc) => {
    const i = Math.min(n - 1, Math.max(0, Math.floor((tsMicros(doc.ts) / 1000 - start) / step)));
    counts[i]!++;
    if (isError(doc.status)) errors[i]!++;
    total++;
  });
  return { start, end, step_ms: step, counts, errors, total, truncated: r.truncated };
}

export interface MapNode {
  id: string;
  kind: 'clients' | 'service' | 'host';
  calls_in: number;
  calls_out: number;
}
export interface MapEdge {
  from: string;
  to: string;
  calls: number;
  errors: number;
  error_rate: number;
  protocols: string[];
}
export interface ServiceMap {
  nodes: MapNode[];
  edges: MapEdge[];
  protocols: { l7protocol: string; calls: number; errors: number }[];
  technologies: { host: string; l7protocol: string; calls: number; services: string[] }[];
  total: number;
  truncated: boolean;
}

export const CLIENTS = '(clients)';

/**
 * Who calls whom: an IN record is a call from outside into its service (callers are not recorded
 * on the inbound side); an OUT record is a call from its service to the host it reached. A host
 * that some service answers inbound (its Host header) is drawn as that service.
 */
export async function serviceMap(store: QueryableStore, filter: QueryFilter, o: ScanOptions): Promise<ServiceMap> {
  const hostService = new Map<string, string>();
  const outCalls: IndexDoc[] = [];
  const edges = new Map<string, MapEdge & { protoSet: Set<string> }>();
  const protocols = new Map<string, { l7protocol: string; calls: number; errors: number }>();
  const tech = new Map<string, { host: string; l7protocol: string; calls: number; services: Set<string> }>();
  let total = 0;
  const addEdge = (from: string, to: string, doc: IndexDoc) => {
    const k = `${from}\u0000${to}`;
    let e = edges.get(k);
    if (!e) edges.set(k, (e = { from, to, calls: 0, errors: 0, error_rate: 0, protocols: [], protoSet: new Set() }));
    e.calls++;
    if (isError(doc.status)) e.errors++;
    if (doc.l7protocol) e.protoSet.add(doc.l7protocol);
  };
  // Only the fields the map needs are kept from OUT documents until the hosts are known.
  const r = await scan(store, filter, o, (doc) => {
    total++;
    const proto = doc.l7protocol || '(unknown)';
    const p = protocols.get(proto) ?? { l7protocol: proto, calls: 0, errors: 0 };
    p.calls++;
    if (isError(doc.status)) p.errors++;
    protocols.set(proto, p);
    const service = doc.service || '(unknown)';
    if (doc.direction === 'IN') {
      if (doc.host && !hostService.has(doc.host)) hostService.set(doc.host, service);
      addEdge(CLIENTS, service, doc);
    } else if (doc.direction === 'OUT') {
      outCalls.push({ service, host: doc.host, status: doc.status, l7protocol: doc.l7protocol } as IndexDoc);
      const host = doc.host || '(unknown host)';
      const tk = `${host}\u0000${proto}`;
      const t = tech.get(tk) ?? { host, l7protocol: proto, calls: 0, services: new Set<string>() };
      t.calls++;
      t.services.add(service);
      tech.set(tk, t);
    }
  });
  for (const d of outCalls) addEdge(d.service, hostService.get(d.host) ?? (d.host || '(unknown host)'), d);
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
    protocols: [...protocols.values()].sort((a, b) => b.calls - a.calls),
    technologies: [...tech.values()].map((t) => ({ ...t, services: [...t.services].sort() })).sort((a, b) => b.calls - a.calls),
    total,
    truncated: r.truncated,
  };
}

export const SORT_FIELDS = ['ts', 'service', 'direction', 'command', 'location', 'status', 'duration', 'req_size', 'res_size'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

/**
 * One page of the matches ordered by a column: a bounded selection (only offset+limit documents are
 * held, whatever the number of matches), ties broken by (ts, id) so pages never overlap.
 */
export async function sortedPage(store: QueryableStore, filter: QueryFilter, sort: SortField, desc: boolean, offset: number, limit: number, o: ScanOptions): Promise<{ rows: IndexDoc[]; total: number; truncated: boolean }> {
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
