// Bench: indexing into the embedded short-term store (records/s), and query latency.
// Run after a build: `node bench/embedded-store.mjs [records]` (npm run bench runs it through bench/run.js when present).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const { EmbeddedStore } = await import(new URL('exporters/embedded/store.js', dist).href);
const { newRecord } = await import(new URL('core/record.js', dist).href);

function makeRRPairs(n, now) {
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  const services = ['orders', 'payments', 'frontend', 'inventory'];
  const body = Buffer.from('{"items":[{"sku":"A-1","qty":2}],"total":42.5}'.repeat(8)).toString('base64');
  const out = [];
  for (let i = 0; i < n; i++) {
    const status = [200, 201, 404, 500, 503][i % 5];
    out.push({
      msgType: 'rrpair', ts: new Date(now - (n - i) * 10).toISOString(), l7protocol: 'http', duration: i % 300,
      uuid: Buffer.from(`bench-${String(i).padStart(11, '0')}`).toString('base64'), direction: i % 2 ? 'IN' : 'OUT',
      cluster: 'bench', namespace: 'shop', service: services[i % 4], command: methods[i % 4], location: `/api/orders/${i % 1000}`, status: String(status),
      http: {
        req: { url: `/api/orders/${i % 1000}`, uri: `/api/orders/${i % 1000}`, version: '1.1', method: methods[i % 4], host: 'orders.svc', headers: { 'Content-Type': ['application/json'], 'User-Agent': ['bench'] }, bodyBase64: body },
        res: { contentType: 'application/json', statusCode: status, statusMessage: 'OK', headers: { 'Content-Type': ['application/json'] }, bodyBase64: body },
      },
    });
  }
  return out;
}

export async function run({ records = 100_000, batch = 500 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-embedded-'));
  const results = [];
  try {
    for (const storeRRPair of [false, true]) {
      const store = new EmbeddedStore({ path: join(dir, `bench-${storeRRPair}.db`), storeRRPair, maxSizeBytes: 0 });
      const recs = makeRRPairs(records, Date.now()).map((rr) => newRecord(rr));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < recs.length; i += batch) store.write(recs.slice(i, i + batch));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const q0 = process.hrtime.bigint();
      const page = await store.query({ start: new Date(Date.now() - 3_600_000), service: 'payments', status: '^5', limit: 100 });
      const queryMs = Number(process.hrtime.bigint() - q0) / 1e6;
      results.push({
        case: `embedded-store index (store_rrpair=${storeRRPair})`,
        records,
        batch,
        seconds: +secs.toFixed(3),
        records_per_s: Math.round(records / secs),
        db_bytes: store.dataSize(),
        query_ms: +queryMs.toFixed(2),
        query_hits: page.hits.length,
      });
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const records = Number(process.argv[2] ?? 100_000);
  for (const r of await run({ records })) console.log(JSON.stringify(r));
}
