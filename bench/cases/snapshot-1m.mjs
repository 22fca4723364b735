// `rrpipe snapshot` of 1,000,000 records (BENCH_SNAPSHOT_RECORDS) from a local-directory native
// archive, as its own process: peak RSS (VmHWM from /proc) for a window of a quarter of the
// archive and for all of it, which should be about the same (memory flat in the window size:
// sorted runs spill to disk past a byte bound). Issue 13: ≤ 300 MB for 1,000,000 records.
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, emit, tmp, writeNativeArchive } from '../lib.mjs';

const N = Number(process.env.BENCH_SNAPSHOT_RECORDS ?? 1_000_000);
const HOURS = 10;
const dir = tmp();
const base = Date.parse('2025-03-18T00:00:00Z');
// ~1 KB records (a 512-byte body), in time order with a little jitter so runs need merging.
await writeNativeArchive(join(dir, 'archive'), join(dir, 'data'), N, (j) => new Date(base + Math.floor((j * HOURS * 3.6e6) / N) + ((j * 7919) % 5000)).toISOString(), 512);

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
