// `rrpipe snapshot` of 1,000,000 records (BENCH_SNAPSHOT_RECORDS) from a local-directory native
// archive, as its own process: peak RSS (VmHWM from /proc) for a window of a quarter of the
// archive and for all of it, which should be about the same (memory flat in the window size:
// sorted runs spill to disk past a byte bound). Issue 13: ≤ 300 MB for 1,000,000 records.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, emit, tmp } from '../lib.mjs';

const { archiveExporter } = await import(join(ROOT, 'dist/exporters/internal/archive/exporter.js'));
const { LocalDirStore } = await import(join(ROOT, 'dist/layouts/local.js'));
const { newRecord } = await import(join(ROOT, 'dist/core/record.js'));
const { noopMetrics } = await import(join(ROOT, 'dist/core/telemetry.js'));
const { silentLogger } = await import(join(ROOT, 'dist/core/logger.js'));

const N = Number(process.env.BENCH_SNAPSHOT_RECORDS ?? 1_000_000);
const HOURS = 10;
const dir = tmp();
const base = Date.parse('2025-03-18T00:00:00Z');
const host = { dataDir: join(dir, 'data'), oneShot: true, getExtension: () => undefined, getExporter: () => undefined, reportStatus: () => undefined, status: () => ({}) };
const helper = { timeout: 60_000, sending_queue: { enabled: false }, retry_on_failure: { enabled: false, initial_interval: 1, max_interval: 1, max_elapsed_time: 1, multiplier: 1, randomization_factor: 0 } };
const exp = archiveExporter({ id: 'bench', kind: 'exporter', config: helper, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' }, () => new LocalDirStore(join(dir, 'archive')), { spec: { layout: 'native', prefix: '', format: 'raw_jsonl', compression: 'gzip' }, writeManifest: true });
await exp.start(host);
// ~1 KB records (a 512-byte body), in time order with a little jitter so runs need merging.
for (let i = 0; i < N; i += 5000) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 5000); j++) {
    const ts = new Date(base + Math.floor((j * HOURS * 3.6e6) / N) + ((j * 7919) % 5000)).toISOString();
    batch.push(newRecord({ msgType: 'rrpair', ts, l7protocol: 'http', uuid: randomBytes(16).toString('base64'), service: `svc${j % 5}`, direction: 'IN', http: { req: { method: 'GET', url: `/api/${j % 100}`, headers: { Accept: ['application/json'] } }, res: { statusCode: 200, bodyBase64: randomBytes(512).toString('base64') } } }));
  }
  await exp.consume(batch, {});
}
await exp.shutdown(AbortSignal.timeout(60_000));

/** rrpipe snapshot as a child process; its CPU seconds and peak RSS from /proc, sampled until it exits. */
async function snapshot(hours) {
  const out = join(dir, `snap-${hours}.jsonl`);
  const end = new Date(base + hours * 3.6e6).toISOString();
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/rrpipe.js'), 'snapshot', '--from', join(dir, 'archive'), '--start', new Date(base - 1).toISOString(), '--end', end, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  let hwm = 0;
  let cpu = 0;
  const sample = () => {
    try {
      hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* exited */
    }
  };
  const timer = setInterval(sample, 100);
  const code = await new Promise((r) => child.on('exit', r));
  clearInterval(timer);
  if (code !== 0) throw new Error(`rrpipe snapshot exited with ${code}`);
  let records = 0;
  for await (const chunk of createReadStream(out)) for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) records++;
  const bytes = statSync(out).size;
  rmSync(out);
  emit({ case: `rrpipe snapshot, ${hours} of ${HOURS} hours of a ${N.toLocaleString('en-US')}-record native gzip archive (local dir)`, records, bytes, seconds: (Date.now() - t0) / 1000, cpu_seconds: cpu, peak_rss_mb: hwm });
}

await snapshot(HOURS / 4);
await snapshot(HOURS);
rmSync(dir, { recursive: true, force: true });
