// Write and query cost of the stores that run only against wire fakes here (awstimestream,
// azureaisearch): the fakes (test/fakes/, bundled with esbuild) run in a child process, so the
// CPU seconds measured are rrpipe's own (SDK, serialisation, paging), not the fake's. records/s
// is bounded by the fake; it says nothing about the real service. Run after `npm run build`:
//   node bench/wirefake-stores.mjs [records=20000] [batch=500]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { silentLogger } from '../dist/core/logger.js';
import { ROOT, emit, measure, storeBenchRecords, tmp } from './lib.mjs';

const N = Number(process.argv[2] ?? 20000);
const BATCH = Number(process.argv[3] ?? 500);
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';

const entry = `
import { FakeTimestream } from ${JSON.stringify(join(ROOT, 'test/fakes/timestream/server.ts'))};
import { FakeAiSearch } from ${JSON.stringify(join(ROOT, 'test/fakes/aisearch/server.ts'))};
const ts = new FakeTimestream(); await ts.start();
const ai = new FakeAiSearch('bench-key'); await ai.start();
console.log(JSON.stringify({ timestream: ts.endpoint, aisearch: ai.endpoint }));
`;
const dir = tmp();
await build({ stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' }, bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'fakes.mjs'), logLevel: 'error' });
const child = spawn(process.execPath, [join(dir, 'fakes.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
const endpoints = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(String(d)))));

async function run(name, store) {
  await store.start();
  const recs = await storeBenchRecords(N);
  const w = await measure(async () => {
    for (let i = 0; i < recs.length; i += BATCH) await store.push(recs.slice(i, i + BATCH));
  });
  const q = await measure(() => store.query({ service: 'payments', start: new Date('2025-06-01T00:05:00Z'), end: new Date('2025-06-01T00:30:00Z'), limit: 100 }));
  await store.shutdown();
  emit({ store: `${name} (wire fake)`, records: N, batch: BATCH, records_per_s: Math.round(N / w.seconds), cpu_s_per_100k: +((w.cpu_seconds * 100_000) / N).toFixed(2), peak_rss_mb: Math.round(w.peak_rss_mb), query_100_hits_ms: Math.round(q.seconds * 1000), hits: q.result.hits.length });
}

try {
  const { TimestreamStore } = await import('../dist/exporters/awstimestream/store.js');
  await run('awstimestream', new TimestreamStore({ region: 'us-east-1', endpoint: endpoints.timestream, database: 'bench', table: 'rrpairs', create_table: true, memory_store_retention: 86_400_000, magnetic_store_retention: 3650 * 86_400_000, magnetic_store_writes: true, max_record_size: 2048, concurrency: 4, max_attempts: 3 }, silentLogger()));
  const { AiSearchStore } = await import('../dist/exporters/azureaisearch/store.js');
  await run('azureaisearch', new AiSearchStore({ endpoint: endpoints.aisearch, api_key: 'bench-key', index_name: 'bench', create_index: true, store_rrpair: false, retention: 0, retention_interval: 3_600_000, max_document_size: 16 << 20, concurrency: 2, max_retries: 3 }, silentLogger()));
} finally {
  child.kill();
}
