// OTLP/HTTP-protobuf → batch → file: how many RRPairs per second the daemon takes in and writes,
// and its peak RSS. Runs `node bin/rrpipe.js run` as a child (so RSS is the daemon's alone),
// sends pre-encoded ExportLogsServiceRequests built from the in-repo samples over keep-alive
// connections, then stops the daemon with SIGTERM (which drains and closes the files) and
// counts the lines written. Needs `npm run build` first.
//   node bench/otlp.mjs [records=200000] [per_request=200] [concurrency=8]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleLines } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { encodeLogsRequest } = await import(join(root, 'dist/rrpair/otlp-proto.js'));
const { recordsToOtlpJson } = await import(join(root, 'dist/rrpair/otlp.js'));
const { newRecord } = await import(join(root, 'dist/core/record.js'));

const TOTAL = Number(process.argv[2] ?? 200_000);
const PER_REQ = Number(process.argv[3] ?? 200);
const CONC = Number(process.argv[4] ?? 8);

const samples = sampleLines().map((l) => JSON.parse(l));

const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

// Pre-encode the requests (unique uuids) so the client costs little during the run.
const nReq = Math.ceil(TOTAL / PER_REQ);
const distinct = Math.min(nReq, 50);
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

const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-otlp-'));
const httpPort = await freePort();
const metricsPort = await freePort();
const cfg = join(dir, 'bench.yaml');
writeFileSync(cfg, `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${httpPort}" }
processors:
  batch: { send_batch_size: 2000, timeout: 200ms }
exporters:
  file:
    path: ${dir}/out/{service}.jsonl
service:
  telemetry: { logs: { level: warn }, metrics: { address: "127.0.0.1:${metricsPort}" } }
  data_dir: ${dir}/state
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [file] }
`);

const child = spawn(process.execPath, [join(root, 'bin/rrpipe.js'), 'run', '-c', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
const peakRssKb = () => { try { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return 0; } };

const agent = new Agent({ keepAlive: true, maxSockets: CONC });
const send = (body) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: httpPort, path: '/v1/logs', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', reject);
  req.end(body);
});

// wait for the daemon
for (let i = 0; ; i++) {
  try { await send(bodies[0].subarray(0, 0)); break; } catch { if (i > 200) throw new Error('daemon did not start'); await new Promise((r) => setTimeout(r, 50)); }
}

let next = 0;
let retries = 0;
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
const rss = peakRssKb();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
const drainedAt = process.hrtime.bigint();
agent.destroy();

let lines = 0;
for (const f of readdirSync(join(dir, 'out'), { recursive: true })) {
  const p = join(dir, 'out', String(f));
  try { lines += readFileSync(p, 'utf8').split('\n').filter(Boolean).length; } catch { /* a directory */ }
}
rmSync(dir, { recursive: true, force: true });

const sent = nReq * PER_REQ;
const secs = Number(acceptedAt - t0) / 1e9;
const secsAll = Number(drainedAt - t0) / 1e9;
console.log(JSON.stringify({
  bench: 'otlp-http-protobuf → batch → file',
  records: sent,
  records_written: lines,
  request_records: PER_REQ,
  request_bytes: Math.round(bytesPerReq),
  concurrency: CONC,
  seconds_to_accept: +secs.toFixed(2),
  seconds_incl_drain: +secsAll.toFixed(2),
  records_per_s: Math.round(sent / secs),
  records_per_s_incl_drain: Math.round(sent / secsAll),
  mb_per_s: +((nReq * bytesPerReq) / secs / 1e6).toFixed(1),
  peak_rss_mb: +(rss / 1024).toFixed(0),
  retried_requests: retries,
}));
if (lines !== sent) { console.error(`LOSS: sent ${sent}, written ${lines}`); process.exitCode = 1; }
