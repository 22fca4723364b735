// Bench: the traffic explorer (query_api /ui) over 100,000 matching records in the embedded store.
// Each request is what the page asks when a filter is applied: the server-side histogram, the first
// table page (store order), a page sorted by duration, a deep sorted page, and the service map.
// Reports wall ms, CPU ms (this process; the embedded store's query worker is a thread of it) and
// peak RSS. `node bench/explorer.mjs [records]` after `npm run build`; BENCH_RECORDS sets the count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, measure } from './lib.mjs';

const dist = new URL('../dist/', import.meta.url);
const { EmbeddedStore } = await import(new URL('exporters/embedded/store.js', dist).href);
const { newRecord } = await import(new URL('core/record.js', dist).href);
const scan = await import(new URL('extensions/query_api/ui/scan.js', dist).href);

const records = Number(process.argv[2] ?? process.env.BENCH_RECORDS ?? 100_000);
const now = Date.now();
const services = ['frontend', 'orders', 'payments', 'inventory'];
const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-explorer-'));
try {
  const store = new EmbeddedStore({ path: join(dir, 'explorer.db'), storeRRPair: false, maxSizeBytes: 0 });
  const batch = [];
  for (let i = 0; i < records; i++) {
    const status = [200, 201, 404, 500, 503][i % 5];
    const svc = services[i % 4];
    batch.push(newRecord({
      msgType: 'rrpair', ts: new Date(now - 3_000_000 + Math.floor((i * 3_000_000) / records)).toISOString(), l7protocol: 'http', duration: (i * 7) % 900,
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
  const cases = [
    ['histogram (80 buckets)', () => scan.histogram(store, filter, 80, o), (r) => `total ${r.total}`],
    ['table first page (ts order)', () => store.query({ ...filter, limit: 50 }), (r) => `${r.hits.length} rows`],
    ['table sorted by duration, page 1', () => scan.sortedPage(store, filter, 'duration', true, 0, 50, o), (r) => `${r.rows.length} of ${r.total}`],
    ['table sorted by duration, page 1000', () => scan.sortedPage(store, filter, 'duration', true, 49_950, 50, o), (r) => `${r.rows.length} of ${r.total}`],
    ['service map', () => scan.serviceMap(store, filter, o), (r) => `${r.edges.length} edges`],
  ];
  for (const [name, fn, what] of cases) {
    const m = await measure(fn);
    emit({ case: `explorer: ${name}`, records, seconds: +m.seconds.toFixed(3), cpu_seconds: +m.cpu_seconds.toFixed(3), peak_rss_mb: Math.round(m.peak_rss_mb), extra: what(m.result) });
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
