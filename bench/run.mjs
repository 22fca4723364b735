// npm run bench: runs each case in bench/cases/ in its own process (so peak RSS is its own)
// and prints one table, then each area benchmark in bench/*.mjs with its own table. BENCH_RECORDS sets the record count; BENCH_CASES filters by file name.
// Every JSON row (from cases and area benchmarks) is also written to bench/results/<UTC time>.json,
// with the machine and commit, so runs can be compared.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';

const filter = process.env.BENCH_CASES ? new RegExp(process.env.BENCH_CASES) : undefined;
const cases = readdirSync(join(ROOT, 'bench/cases')).filter((f) => f.endsWith('.mjs') && (!filter || filter.test(f))).sort();
const rows = [];
for (const c of cases) {
  process.stderr.write(`running ${c}...\n`);
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', join(ROOT, 'bench/cases', c)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    for (const line of out.split('\n')) if (line.startsWith('{')) rows.push(JSON.parse(line));
  } catch (err) {
    rows.push({ case: `${c}: FAILED (${err.message.split('\n')[0]})` });
  }
}

const fmt = (n, d = 0) => (n === undefined ? '' : Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const per100k = (r) => r.cpu_s_per_100k ?? (r.records && r.cpu_seconds !== undefined ? (r.cpu_seconds / r.records) * 100_000 : undefined);
const table = [['case', 'records', 'records/s', 'MB/s', 'CPU s', 'CPU s/100k', 'wall s', 'peak RSS MB', 'extra']];
for (const r of rows) {
  table.push([
    r.case,
    fmt(r.records),
    r.records && r.seconds ? fmt(r.records / r.seconds) : '',
    r.bytes && r.seconds ? fmt(r.bytes / 2 ** 20 / r.seconds, 1) : '',
    fmt(r.cpu_seconds, 2),
    fmt(per100k(r), 2),
    fmt(r.seconds, 2),
    fmt(r.peak_rss_mb, 0),
    r.extra ?? '',
  ]);
}
const widths = table[0].map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
const line = (row) => '| ' + row.map((c, i) => (i === 0 || i === 8 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ') + ' |';
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`machine: ${machine}, load average at start ${load}`);
console.log(line(table[0]));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const row of table.slice(1)) console.log(line(row));

// Area benchmarks that print their own tables (OTLP, processors, stores, queue, nettap, rehydrate).
const standalone = readdirSync(join(ROOT, 'bench')).filter((f) => f.endsWith('.mjs') && !['lib.mjs', 'run.mjs'].includes(f) && (!filter || filter.test(f))).sort();
for (const f of standalone) {
  console.log(`\n== bench/${f}`);
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', join(ROOT, 'bench', f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, timeout: 600_000 });
    process.stdout.write(out);
    for (const l of out.split('\n')) if (l.startsWith('{')) rows.push({ bench: f, ...JSON.parse(l) });
  } catch (err) {
    console.log(`FAILED: ${err.message.split('\n')[0]}`);
    rows.push({ case: `${f}: FAILED` });
  }
}

let commit = '';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
} catch { /* not a git checkout */ }
const stampNow = new Date().toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
const resultsDir = join(ROOT, 'bench/results');
mkdirSync(resultsDir, { recursive: true });
const rowsOut = rows.map((r) => ({ ...r, cpu_s_per_100k: per100k(r) }));
writeFileSync(join(resultsDir, `${stampNow}.json`), JSON.stringify({ at: new Date().toISOString(), commit, machine, load_average_at_start: load, filter: process.env.BENCH_CASES ?? null, rows: rowsOut }, null, 2) + '\n');
console.log(`\nresults: bench/results/${stampNow}.json`);
if (rows.some((r) => /FAILED/.test(r.case ?? ''))) process.exitCode = 1;
