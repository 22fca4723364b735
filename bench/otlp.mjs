// rrpipe as a child process (`node bin/rrpipe.js run`), so CPU and RSS are the daemon's alone,
// read from /proc/<pid>. Cases (issue 13):
//   startup  start to healthy (health_check answers 200; wall and the daemon's CPU seconds) and
//            idle RSS 1 s and 6 s later, twice:
//            `node bin/rrpipe.js` as is, and as the container image runs it (the Dockerfile's
//            NODE_OPTIONS and MALLOC_CONF, jemalloc preloaded when libjemalloc2 is installed here)
//   plain    OTLP/HTTP protobuf, 500 records a request, 4 in flight → batch → file on tmpfs
//   default  the same through redaction + indexing + batch → gzip file (the default processing;
//            redaction's workers: auto, 2 workers on 2 CPUs)
//   pool     default with the redaction in 2 worker threads (`redaction: { workers: 2 }`)
//   pool1    the same with 1 worker thread (`redaction: { workers: 1 }`)
//   inline   the same with redaction on the event loop (`redaction: { workers: 0 }`)
//   gunzip   default with the gzip bodies gunzipped in a helper thread (`redaction: { gunzip_thread: true }`)
// Sends pre-encoded ExportLogsServiceRequests built from the shared samples (~5.6 KB RRPairs,
// most response bodies gzip) over keep-alive connections, stops the daemon with SIGTERM (which
// drains and closes the files) and counts the lines written. CPU seconds are the daemon's
// user+system from the moment it is healthy to its exit, so start-up is not counted per record.
// Prints one JSON line per case. Needs `npm run build` first.
//   node bench/otlp.mjs [records=100000] [per_request=500] [concurrency=4]   BENCH_OTLP_CASES=plain,default,pool,startup
//   (a load case as `plain@image` runs the daemon as the container image does;
//   BENCH_OTLP_BATCH='{ flush_when_idle: 5ms }' sets the batch processor's config, default {})
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { sampleLines } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { encodeLogsRequest } = await import(join(root, 'dist/rrpair/otlp-proto.js'));
const { recordsToOtlpJson } = await import(join(root, 'dist/rrpair/otlp.js'));
const { newRecord } = await import(join(root, 'dist/core/record.js'));

const TOTAL = Number(process.argv[2] ?? process.env.BENCH_RECORDS ?? 100_000);
const PER_REQ = Number(process.argv[3] ?? 500);
const CONC = Number(process.argv[4] ?? 4);
const CASES = (process.env.BENCH_OTLP_CASES ?? 'startup,plain,default,inline,pool').split(',');
const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

const samples = sampleLines().map((l) => JSON.parse(l));

function readFileSyncSafe(p) {
  try { return readFileSync(p, 'utf8'); } catch { return undefined; }
}
const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

/** user+system seconds from a /proc stat line. */
function statCpu(stat) {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/**
 * The daemon's CPU seconds (user+system, every thread), its main thread's alone (the event loop:
 * what bounds records/s when worker threads take the rest) and RSS from /proc; undefined once it exited.
 */
function procStats(pid) {
  const stat = readFileSyncSafe(`/proc/${pid}/stat`);
  const status = readFileSyncSafe(`/proc/${pid}/status`);
  const mainStat = readFileSyncSafe(`/proc/${pid}/task/${pid}/stat`);
  if (!stat || !status) return undefined;
  return {
    cpu: statCpu(stat),
    mainCpu: mainStat ? statCpu(mainStat) : undefined,
    rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
    hwmMb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
  };
}

// Pre-encode the requests (unique uuids) so the client costs little during the run.
const nReq = Math.ceil(TOTAL / PER_REQ);
const distinct = Math.min(nReq, 40);
const bodies = [];
for (let i = 0; i < distinct; i++) {
  const recs = [];
  for (let j = 0; j < PER_REQ; j++) {
    const rr = structuredClone(samples[(i * PER_REQ + j) % samples.length]);
    rr.uuid = Buffer.from(`${i}-${j}`.padEnd(16, '.')).toString('base64');
    recs.push(newRecord(rr, { resource: { cluster: 'bench' }, attributes: { service: `svc-${j % 4}`, namespace: 'bench' } }));
  }
  bodies.push(Buffer.from(encodeLogsRequest(recordsToOtlpJson(recs))));
}
const bytesPerReq = bodies.reduce((a, b) => a + b.length, 0) / bodies.length;

function config(dir, kind, ports) {
  const processing = kind === 'default' || kind === 'inline' || kind.startsWith('pool') || kind === 'gunzip';
  const workers = { pool1: 1, pool: 2, inline: 0 }[kind];
  return `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${ports.http}" }
processors:
${processing ? `  redaction: { secret: bench${workers !== undefined ? `, workers: ${workers}` : kind === 'gunzip' ? ', gunzip_thread: true' : ''} }\n  indexing: {}\n` : ''}  batch: ${process.env.BENCH_OTLP_BATCH ?? '{}'}
exporters:
  file:
    path: ${dir}/out/{service}.jsonl
    layout: rrpipe
    compression: ${processing ? 'gzip' : 'none'}
extensions:
  health_check: { endpoint: "127.0.0.1:${ports.health}" }
service:
  extensions: [health_check]
  telemetry: { logs: { level: warn }, metrics: { address: "127.0.0.1:${ports.metrics}" } }
  data_dir: ${dir}/state
  pipelines:
    logs: { receivers: [otlp], processors: [${processing ? 'redaction, indexing, batch' : 'batch'}], exporters: [file] }
`;
}

async function healthy(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET' }, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The daemon's environment in the container image: the Dockerfile's NODE_OPTIONS and jemalloc (docs/container.md). */
function imageEnv() {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  const envVar = (name) => {
    const v = new RegExp(`\\b${name}=("[^"]*"|\\S+)`).exec(dockerfile)?.[1] ?? '';
    return v.startsWith('"') ? v.slice(1, -1) : v;
  };
  const jemalloc = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find(existsSync);
  return { ...process.env, NODE_OPTIONS: envVar('NODE_OPTIONS'), ...(jemalloc ? { LD_PRELOAD: jemalloc, MALLOC_CONF: envVar('MALLOC_CONF') } : {}) };
}

async function startDaemon(kind, env = process.env) {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rrpipe-bench-otlp-'));
  const ports = { http: await freePort(), metrics: await freePort(), health: await freePort() };
  const cfg = join(dir, 'bench.yaml');
  writeFileSync(cfg, config(dir, kind, ports));
  const t0 = process.hrtime.bigint();
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the daemon.
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), join(root, 'bin/rrpipe.js'), 'run', '-c', cfg], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const exited = new Promise((r) => child.once('exit', r));
  for (let i = 0; !(await healthy(ports.health)); i++) {
    if (i > 3000) throw new Error('daemon did not become healthy');
    await new Promise((r) => setTimeout(r, 5));
  }
  const startSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { dir, ports, child, exited, startSeconds };
}

async function stop(d) {
  let last = procStats(d.child.pid);
  let hwmMb = last.hwmMb;
  const poll = setInterval(() => {
    const s = procStats(d.child.pid);
    // An exiting process has no memory map (VmHWM gone) but its CPU counters are final.
    if (s) last = { ...s, mainCpu: s.mainCpu ?? last.mainCpu, hwmMb: (hwmMb = Math.max(hwmMb, s.hwmMb)) };
  }, 10);
  d.child.kill('SIGTERM');
  await d.exited;
  clearInterval(poll);
  return { ...last, hwmMb };
}

function countLines(dir) {
  let lines = 0;
  for (const f of readdirSync(join(dir, 'out'), { recursive: true })) {
    const p = join(dir, 'out', String(f));
    if (!/\.jsonl(\.gz)?$/.test(p)) continue;
    const raw = readFileSync(p);
    lines += (p.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n').filter(Boolean).length;
  }
  return lines;
}

async function startupCase(asImage) {
  const env = asImage ? imageEnv() : process.env;
  const d = await startDaemon('default', env);
  const atHealthy = procStats(d.child.pid);
  await new Promise((r) => setTimeout(r, 1000));
  const idle = procStats(d.child.pid);
  await new Promise((r) => setTimeout(r, 5000));
  const idle6 = procStats(d.child.pid);
  await stop(d);
  rmSync(d.dir, { recursive: true, force: true });
  const how = asImage ? `as in the image: NODE_OPTIONS=${env.NODE_OPTIONS}${env.LD_PRELOAD ? ', jemalloc' : ''}` : 'node bin/rrpipe.js';
  return { case: `start to healthy, idle RSS (OTLP + redaction + indexing + batch → file; ${how})`, start_seconds: +d.startSeconds.toFixed(3), start_cpu_seconds: atHealthy.cpu, idle_rss_mb: Math.round(idle.rssMb), idle_rss_6s_mb: Math.round(idle6.rssMb), peak_rss_mb: Math.round(idle6.hwmMb) };
}

async function loadCase(kind, asImage = false) {
  const d = await startDaemon(kind, asImage ? imageEnv() : process.env);
  const agent = new Agent({ keepAlive: true, maxSockets: CONC });
  const send = (body) => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: d.ports.http, path: '/v1/logs', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
  const before = procStats(d.child.pid);
  let next = 0;
  let retries = 0;
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONC }, async () => {
    for (;;) {
      const i = next++;
      if (i >= nReq) return;
      for (;;) {
        const status = await send(bodies[i % distinct]);
        if (status === 200) break;
        if (status === 429 || status === 503) { retries++; await new Promise((r) => setTimeout(r, 50)); continue; }
        throw new Error(`unexpected status ${status}`);
      }
    }
  }));
  const acceptedAt = process.hrtime.bigint();
  const client = process.cpuUsage(client0);
  const after = await stop(d);
  const drainedAt = process.hrtime.bigint();
  agent.destroy();
  const lines = countLines(d.dir);
  rmSync(d.dir, { recursive: true, force: true });
  const sent = nReq * PER_REQ;
  const cpu = after.cpu - before.cpu;
  const name = { default: 'OTLP protobuf → redaction + indexing + batch → gzip file', pool: 'OTLP protobuf → redaction (2 workers) + indexing + batch → gzip file', pool1: 'OTLP protobuf → redaction (1 worker) + indexing + batch → gzip file', inline: 'OTLP protobuf → redaction (on the event loop) + indexing + batch → gzip file', gunzip: 'OTLP protobuf → redaction (gunzip_thread) + indexing + batch → gzip file' }[kind] ?? 'OTLP protobuf → batch → file';
  if (lines !== sent) console.error(`LOSS in ${name}: sent ${sent}, written ${lines}`);
  return {
    case: `${name} (${PER_REQ}/request, ${CONC} in flight, tmpfs${asImage ? '; as in the image' : ''})`,
    records: sent,
    records_written: lines,
    bytes: Math.round(nReq * bytesPerReq),
    seconds: Number(acceptedAt - t0) / 1e9,
    seconds_incl_drain: Number(drainedAt - t0) / 1e9,
    cpu_seconds: cpu,
    cpu_s_per_100k: (cpu / sent) * 100_000,
    main_thread_cpu_s_per_100k: ((after.mainCpu - before.mainCpu) / sent) * 100_000,
    records_per_s: Math.round(sent / (Number(acceptedAt - t0) / 1e9)),
    // The sender shares the 2 cores: what it takes bounds the daemon's records/s too.
    client_cpu_s_per_100k: +(((client.user + client.system) / 1e6 / sent) * 100_000).toFixed(2),
    peak_rss_mb: Math.round(after.hwmMb),
    retried_requests: retries,
  };
}

for (const c of CASES) {
  // `<case>@image` runs the daemon with the container image's NODE_OPTIONS and allocator.
  const [kind, how] = c.split('@');
  const rows = kind === 'startup' ? [await startupCase(false), await startupCase(true)] : [await loadCase(kind, how === 'image')];
  for (const row of rows) {
    console.log(JSON.stringify({ area: 'otlp', ...row }));
    if (row.records_written !== undefined && row.records_written !== row.records) process.exitCode = 1;
  }
}
