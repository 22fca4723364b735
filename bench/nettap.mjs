// nettap bench: proxy added latency (p50/p99) and throughput against a direct connection, and
// pcap parsing speed. Run after a build: `npm run build && node bench/nettap.mjs`.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { factory } from '../dist/receivers/nettap/index.js';
import { validateAgainst } from '../dist/config/validate-schema.js';
import { silentLogger } from '../dist/core/logger.js';
import { noopMetrics } from '../dist/core/telemetry.js';
import { PcapCapture } from '../dist/receivers/nettap/pcap/capture.js';

const body = Buffer.alloc(1024, 'a');
const app = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(body));
});
await new Promise((r) => app.listen(0, '127.0.0.1', r));
const appPort = app.address().port;

let captured = 0;
const cfg = { mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` } } };
validateAgainst(factory.schema, cfg);
const rx = factory.create({ id: 'nettap', kind: 'receiver', config: cfg, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' }, { consume: async (b) => void (captured += b.length) });
await rx.start({});
const proxyPort = rx.port('IN');

function request(agent, port) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: '/bench', method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    });
    req.on('error', reject);
    req.end('{"x":1}');
  });
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function latency(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 200; i++) await request(agent, port); // warm up
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await request(agent, port));
  agent.destroy();
  xs.sort((a, b) => a - b);
  return { p50: pct(xs, 50), p99: pct(xs, 99) };
}

async function throughput(port, ms, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await request(agent, port);
      done++;
    }
  }));
  agent.destroy();
  return (done / ms) * 1000;
}

const N = Number(process.env.BENCH_N ?? 3000);
const direct = await latency(appPort, N);
const proxied = await latency(proxyPort, N);
const tDirect = await throughput(appPort, 3000, 32);
const tProxy = await throughput(proxyPort, 3000, 32);
await rx.shutdown(AbortSignal.timeout(2000));
app.close();

// pcap parsing: an in-memory capture of keep-alive HTTP exchanges
function frame(src, dst, sport, dport, seq, ack, flags, payload) {
  const b = Buffer.alloc(54 + payload.length);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(40 + payload.length, 16);
  b[22] = 64;
  b[23] = 6;
  Buffer.from(src).copy(b, 26);
  Buffer.from(dst).copy(b, 30);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt32BE(seq >>> 0, 38);
  b.writeUInt32BE(ack >>> 0, 42);
  b[46] = 0x50;
  b[47] = flags;
  payload.copy(b, 54);
  return b;
}
const reqBytes = Buffer.from('POST /api/orders HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"order":12345}');
const resBytes = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
const parts = [];
const hdr = Buffer.alloc(24);
hdr.writeUInt32LE(0xa1b2c3d4, 0);
hdr.writeUInt16LE(2, 4);
hdr.writeUInt16LE(4, 6);
hdr.writeUInt32LE(262144, 16);
hdr.writeUInt32LE(1, 20);
parts.push(hdr);
const EXCHANGES = 50_000;
const PER_CONN = 100;
let ts = 1_700_000_000;
const rec = (f) => {
  const r = Buffer.alloc(16);
  r.writeUInt32LE(ts, 0);
  r.writeUInt32LE(0, 4);
  r.writeUInt32LE(f.length, 8);
  r.writeUInt32LE(f.length, 12);
  parts.push(r, f);
};
for (let c = 0; c < EXCHANGES / PER_CONN; c++) {
  const cl = [10, 0, 0, 2], sv = [10, 0, 0, 1], sp = 10000 + c;
  let cs = 1000, ss = 9000;
  rec(frame(cl, sv, sp, 8080, cs - 1, 0, 0x02, Buffer.alloc(0)));
  rec(frame(sv, cl, 8080, sp, ss - 1, cs, 0x12, Buffer.alloc(0)));
  for (let i = 0; i < PER_CONN; i++) {
    rec(frame(cl, sv, sp, 8080, cs, ss, 0x18, reqBytes));
    cs += reqBytes.length;
    rec(frame(sv, cl, 8080, sp, ss, cs, 0x18, resBytes));
    ss += resBytes.length;
    ts++;
  }
}
const file = Buffer.concat(parts);
let records = 0;
const cap = new PcapCapture(
  { bpf_filter: '', tcpdump_path: 'tcpdump', snaplen: 262144, local_ports: [8080], local_addresses: [], postgres_ports: [5432], idle_timeout: 300000, maxBody: 1 << 20, tags: {} },
  { cluster: 'c', namespace: 'n', service: 's' },
  () => records++,
  () => {},
  silentLogger(),
);
const t0 = performance.now();
for (let o = 0; o < file.length; o += 1 << 20) cap.push(file.subarray(o, o + (1 << 20)));
cap.end();
const secs = (performance.now() - t0) / 1000;

const f = (x) => x.toFixed(3);
console.log(`nettap proxy latency (keep-alive, 1 KiB response, ${N} sequential requests):`);
console.log(`  direct  p50 ${f(direct.p50)} ms  p99 ${f(direct.p99)} ms`);
console.log(`  proxied p50 ${f(proxied.p50)} ms  p99 ${f(proxied.p99)} ms  (added p50 ${f(proxied.p50 - direct.p50)} ms, p99 ${f(proxied.p99 - direct.p99)} ms)`);
console.log(`nettap proxy throughput (32 concurrent, 3 s): direct ${tDirect.toFixed(0)} req/s, proxied ${tProxy.toFixed(0)} req/s (${((tProxy / tDirect) * 100).toFixed(0)}%), ${captured} captures delivered`);
console.log(`nettap pcap parsing: ${records} HTTP records from ${(file.length / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s = ${(records / secs).toFixed(0)} records/s (${(file.length / 1e6 / secs).toFixed(0)} MB/s)`);
