// Bench: the traffic explorer (query_api /ui) over 100,000 matching records in the embedded store.
// Each request is what the page asks when a filter is applied: the histogram and the service map
// (with its protocol summary) — counted by the store (SQL GROUP BY in its query worker, the
// default) and, for comparison, by the generic page scan (what every request did before, and
// what stores without aggregate() still do) — the first table page (store order, also with the
// protocol filter), a page sorted by duration and a deep sorted page (ORDER BY in the store, and the
// scan for comparison).
// Reports wall s (the request's latency), CPU s (this process, query worker thread included), peak
// RSS, and the longest event-loop stall during the request: the page stays responsive when the
// loop is free while a request runs (ingestion, health and other requests go on).
// `node bench/explorer.mjs [records]` after `npm run build`; BENCH_RECORDS sets the count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { emit, measure } from './lib.mjs';

const dist = new URL('../dist/', import.meta.url);
const { EmbeddedStore } = await import(new URL('exporters/embedded/store.js', dist).href);
const { newRecord } = await import(new URL('core/record.js', dist).href);
const scan = await import(new URL('extensions/query_api/ui/scan.js', dist).href);

const records = Number(process.argv[2] ?? process.env.BENCH_RECORDS ?? 100_000);
const now = Date.now();
const services = ['frontend', 'orders', 'payments', 'inventory'];
const protocols = ['http', 'http', 'grpc', 'postgres', 'https'];
const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-explorer-'));
try {
  const store = new EmbeddedStore({ path: join(dir, 'explorer.db'), storeRRPair: false, maxSizeBytes: 0 });
  const batch = [];
  for (let i = 0; i < records; i++) {
    const status = [200, 201, 404, 500, 503][i % 5];
    const svc = services[i % 4];
    batch.push(newRecord({
      msgType: 'rrpair', ts: new Date(now - 3_000_000 + Math.floor((i * 3_000_000) / records)).toISOString(), l7protocol: protocols[i % 5], duration: (i * 7) % 900,
      uuid: Buffer.from(`explorer-${String(i).padStart(10, '0')}`).toString('base64'), direction: i % 2 ? 'IN' : 'OUT',
      cluster: 'bench', namespace: 'shop', service: svc, command: 'GET', location: `/api/items/${i % 500}`, status: String(status),
      http: { req: { url: '/', method: 'GET', host: i % 2 ? `${svc}.svc` : `${services[(i + 1) % 4]}.svc`, headers: {} }, res: { statusCode: status, headers: {} } },
    }));
    if (batch.length === 1000) store.write(batch.splice(0));
  }
  if (batch.length) store.write(batch.splice(0));
  // Every record matches the window: the page's worst case.
  const filter = { start: new Date(now - 3_600_000), end: new Date(now + 1000) };
  const o = { timeoutMs: 60_000, maxDocs: 1_000_000 };
  // The same store seen without aggregate(): the generic scan (and the behaviour before it).
  const scanOnly = { query: (f, opts) => store.query(f, opts) };
  const cases = [
    ['histogram (80 buckets), store-side', () => scan.histogram(store, filter, 80, o), (r) => `total ${r.total}, native ${r.native}`],
    ['histogram (80 buckets), page scan', () => scan.histogram(scanOnly, filter, 80, o), (r) => `total ${r.total}, native ${r.native}`],
    ['service map + protocols, store-side', () => scan.serviceMap(store, filter, o), (r) => `${r.edges.length} edges, ${r.protocols.length} protocols, native ${r.native}`],
    ['service map + protocols, page scan', () => scan.serviceMap(scanOnly, filter, o), (r) => `${r.edges.length} edges, ${r.protocols.length} protocols, native ${r.native}`],
    ['table first page (ts order)', () => store.query({ ...filter, limit: 50 }), (r) => `${r.hits.length} rows`],
    ['table first page, protocol=grpc', () => store.query({ ...filter, protocol: 'grpc', limit: 50 }), (r) => `${r.hits.length} rows`],
    ['table sorted by duration, page 1, store-side', () => scan.sortedPage(store, filter, 'duration', true, 0, 50, o), (r) => `${r.rows.length} of ${r.total}, native ${r.native}`],
    ['table sorted by duration, page 1, page scan', () => scan.sortedPage(scanOnly, filter, 'duration', true, 0, 50, o), (r) => `${r.rows.length} of ${r.total}, native ${r.native}`],
    ['table sorted by duration, page 1000, store-side', () => scan.sortedPage(store, filter, 'duration', true, 49_950, 50, o), (r) => `${r.rows.length} of ${r.total}, native ${r.native}`],
    ['table sorted by duration, page 1000, page scan', () => scan.sortedPage(scanOnly, filter, 'duration', true, 49_950, 50, o), (r) => `${r.rows.length} of ${r.total}, native ${r.native}`],
  ];
  await store.query({ limit: 1 }); // the query worker starts once, before the first request
  for (const [name, fn, what] of cases) {
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const m = await measure(fn);
    loop.disable();
    emit({
      case: `explorer: ${name}`, records, seconds: +m.seconds.toFixed(3), cpu_seconds: +m.cpu_seconds.toFixed(3), peak_rss_mb: Math.round(m.peak_rss_mb),
      max_loop_stall_ms: Math.round(loop.max / 1e6), extra: what(m.result),
    });
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
