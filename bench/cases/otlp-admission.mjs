// Memory under 16 concurrent maximum-size OTLP/HTTP requests, with a config shaped like the
// Speedscale BYOC chart's collector (no memory_limiter): rrpipe runs as its own process and its
// peak RSS is read from /proc/<pid>/status (VmHWM), then its RSS after the load has passed.
// Requests refused with 429 (admission.request_limit_mib) are retried as an OTLP client does.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, emit, generateJsonl, tmp } from '../lib.mjs';

const { newRecord } = await import(join(ROOT, 'dist/index.js'));
const { recordsToOtlpJson } = await import(join(ROOT, 'dist/rrpair/otlp.js'));

const CONCURRENT = 16;
const ROUNDS = Number(process.env.BENCH_ADMISSION_ROUNDS ?? 2);
const dir = tmp();
const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const port = await freePort();
const metricsPort = await freePort();
writeFileSync(join(dir, 'c.yaml'), `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${port}" }
processors:
  batch: {}
exporters:
  file: { path: "${dir}/out/{service}.jsonl", layout: rrpipe, format: raw_jsonl, compression: gzip, flush_interval: 1s }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: basic, address: "127.0.0.1:${metricsPort}" }, logs: { level: warn } }
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [file] }
`);

// One request of about 18 MB of OTLP JSON (gzip: a few MB), distinct uuids per request. The
// records are made once and renumbered per request.
const template = generateJsonl(2000, 1000).split('\n').filter(Boolean).map((l) => JSON.parse(l));
const perRecord = Buffer.byteLength(JSON.stringify(recordsToOtlpJson(template.map((r) => newRecord(r))))) / template.length;
const PER_REQUEST = Math.ceil((17.5 * 2 ** 20) / perRecord);
function body(k) {
  const recs = [];
  for (let i = 0; i < PER_REQUEST; i++) {
    const rr = { ...template[i % template.length], uuid: Buffer.from((k * 1e7 + i).toString(16).padStart(32, '0'), 'hex').toString('base64') };
    recs.push(newRecord(rr));
  }
  const json = Buffer.from(JSON.stringify(recordsToOtlpJson(recs)));
  return { gz: gzipSync(json), decoded: json.length, records: recs.length };
}

function post(buf) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/logs', method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': buf.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(buf);
  });
}

async function send(buf) {
  let refused = 0;
  for (;;) {
    const code = await post(buf).catch(() => 0);
    if (code === 200) return refused;
    refused++;
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
  }
}

/** Where the resident memory is: V8's heap, buffers outside it, and what malloc holds beyond both. */
async function breakdown(pid) {
  const text = await new Promise((resolve) => {
    request({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c) => (b += c)).on('end', () => resolve(b));
    }).on('error', () => resolve('')).end();
  });
  const metric = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const anon = Number(/Anonymous:\s+(\d+) kB/.exec(rollup)?.[1] ?? 0) / 1024;
  return `heap total ${metric('nodejs_heap_size_total_bytes').toFixed(0)} MB (used ${metric('nodejs_heap_size_used_bytes').toFixed(0)}), external ${metric('nodejs_external_memory_bytes').toFixed(0)} MB, anonymous ${anon.toFixed(0)} MB of RSS ${status(pid, 'VmRSS').toFixed(0)} MB`;
}

const status = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const bodies = Array.from({ length: CONCURRENT }, (_, k) => body(k));
const child = spawn(process.execPath, [join(ROOT, 'bin/rrpipe.js'), 'run', '-c', join(dir, 'c.yaml')], { stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; i < 100; i++) {
  if (await post(Buffer.alloc(0)).then(() => true, () => false)) break;
  await new Promise((r) => setTimeout(r, 100));
}
const t0 = Date.now();
const ticks = (s) => Number(s[13]) + Number(s[14]);
const cpu0 = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(' ');
let refused = 0;
for (let round = 0; round < ROUNDS; round++) refused += (await Promise.all(bodies.map((b) => send(b.gz)))).reduce((a, n) => a + n, 0);
const seconds = (Date.now() - t0) / 1000;
const peak = status(child.pid, 'VmHWM');
// Acknowledged is not yet written: wait until the daemon has gone idle (under 2% of a core over a
// second, at most two minutes), so that "after" means after the work, however loaded the machine.
const ticksNow = () => ticks(readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(' '));
const settle0 = Date.now();
for (let prev = ticksNow(); Date.now() - settle0 < 120_000; ) {
  await new Promise((r) => setTimeout(r, 1000));
  const now = ticksNow();
  if (now - prev <= 2) break;
  prev = now;
}
const settled = (Date.now() - settle0) / 1000;
const cpuSettled = ticksNow();
// V8 gives memory back in steps once allocation stops (its memory reducer), so sample a while.
const after = {};
for (const s of [5, 15, 30]) {
  await new Promise((r) => setTimeout(r, (s - (Object.keys(after).length ? Number(Object.keys(after).at(-1)) : 0)) * 1000));
  after[s] = status(child.pid, 'VmRSS');
}
const memory30s = await breakdown(child.pid);
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(dir, { recursive: true, force: true });
const records = bodies.reduce((a, b) => a + b.records, 0) * ROUNDS;
emit({
  case: `otlp http: ${CONCURRENT} concurrent ${(bodies[0].decoded / 2 ** 20).toFixed(0)} MB requests (${(bodies[0].gz.length / 2 ** 20).toFixed(1)} MB gzip), BYOC shape`,
  records,
  bytes: bodies.reduce((a, b) => a + b.decoded, 0) * ROUNDS,
  seconds,
  cpu_seconds: (cpuSettled - ticks(cpu0)) / 100,
  malloc: process.env.LD_PRELOAD?.includes('jemalloc') ? `jemalloc (${process.env.MALLOC_CONF ?? 'defaults'})` : `glibc${process.env.MALLOC_ARENA_MAX ? ` (MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX})` : ''}`,
  peak_rss_mb: peak,
  extra: `idle ${settled.toFixed(0)} s after the last answer; RSS after that: ${Object.entries(after).map(([s, mb]) => `${s} s ${mb.toFixed(0)} MB`).join(', ')}; 429s retried: ${refused}; at 30 s: ${memory30s}`,
});
