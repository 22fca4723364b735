// Bench: rehydrate and snapshot over a local-directory native archive (no emulator needed).
// Run after `npm run build`: node bench/rehydrate.mjs [records]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDirStore } from '../dist/layouts/local.js';
import { buildSnapshot } from '../dist/layouts/snapshot.js';
import { silentLogger } from '../dist/core/logger.js';
import { Service } from '../dist/service/service.js';
import { builtinRegistry } from '../dist/components.js';
import { writeNativeArchive } from './lib.mjs';

const N = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-lt-'));
const base = Date.parse('2025-03-18T00:00:00Z');
await writeNativeArchive(join(dir, 'archive'), join(dir, 'data'), N, (j) => new Date(base + Math.floor((j * 30 * 3.6e6) / N)).toISOString(), 300);

function report(name, records, ms) {
  console.log(JSON.stringify({ bench: name, records, seconds: +(ms / 1000).toFixed(2), records_per_s: Math.round(records / (ms / 1000)), peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

let t = performance.now();
const svc = new Service({
  files: ['b.yaml'],
  texts: { 'b.yaml': `service:\n  data_dir: ${join(dir, 'data')}\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs/r: { receivers: [rehydrate], exporters: [debug] }\nreceivers:\n  rehydrate: { from: ${join(dir, 'archive')}, start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z', checkpoint: false }\nexporters:\n  debug: { verbosity: basic, sampling_initial: 0 }\n` },
  registry: await builtinRegistry(),
  logger: silentLogger(),
  oneShot: true,
});
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true; // the debug exporter's counts
await svc.start();
await svc.receiversDone();
await svc.shutdown();
process.stdout.write = write;
report('rehydrate (local dir, native gzip)', N, performance.now() - t);

t = performance.now();
const res = await buildSnapshot({ store: new LocalDirStore(join(dir, 'archive')), prefix: '', layout: 'auto', startMs: base - 1, endMs: base + 31 * 3.6e6, format: 'raw_jsonl', out: join(dir, 'raw.jsonl'), spillRecords: 50_000 });
report(`snapshot (spill runs: ${res.runs})`, res.records, performance.now() - t);
rmSync(dir, { recursive: true, force: true });
