// file receiver → batch (defaults: 8,192 records, 200 ms) → file exporter, on generated sample-shaped RRPairs.
import { join } from 'node:path';
import { ROOT, emit, measure, tmp, writeJsonl } from '../lib.mjs';

const { Service, builtinRegistry } = await import(join(ROOT, 'dist/index.js'));
const { pino } = await import('pino');

const N = Number(process.env.BENCH_RECORDS ?? 50_000);
const dir = tmp();
const inputBytes = writeJsonl(join(dir, 'in.jsonl'), N);

for (const compression of ['gzip', 'none']) {
  const out = join(dir, `out-${compression}`);
  const yaml = `
receivers:
  file: { include: ["${dir}/in.jsonl"], follow: false, batch_size: 1000, checkpoint: { path: "${dir}/cp-${compression}.json" } }
processors:
  batch: {}
exporters:
  file: { path: "${out}/dt=%Y-%m-%d/hour=%H/rrpairs.jsonl", layout: rrpipe, compression: ${compression} }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [batch], exporters: [file] }
`;
  const m = await measure(async () => {
    const s = new Service({ files: ['b.yaml'], texts: { 'b.yaml': yaml }, registry: await builtinRegistry(), logger: pino({ level: 'silent' }), oneShot: true });
    await s.start();
    await s.receiversDone();
    await s.shutdown();
    return s.telemetry.total('sent');
  });
  const sent = await m.result;
  if (sent !== N) throw new Error(`sent ${sent} of ${N}`);
  emit({ case: `file → batch → file (${compression})`, records: N, bytes: inputBytes, seconds: m.seconds, cpu_seconds: m.cpu_seconds, peak_rss_mb: m.peak_rss_mb });
}
