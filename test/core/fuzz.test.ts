import http from 'node:http';
import net from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import type { NettapPcapReceiver } from '../../src/receivers/nettap/index.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { Flow, pcapFile } from '../nettap/craft.js';
import { Collector, createNettap } from '../nettap/helpers.js';
import { grpcExport, post } from '../otlp/client.js';
import { counterValue, startService, type Running } from '../otlp/harness.js';
import { SAMPLES } from '../otlp/support.js';
import { freePort, generate, testHost, tmp, waitFor } from '../support/index.js';

/*
 * Generated malformed input into every receiver, from a seeded PRNG (the same run every time):
 * valid inputs mutated by bit flips, truncation, splices and random bytes. The daemon must
 * answer every request, keep serving valid input, and its counters must add up.
 */
function prng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

function mutate(src: Buffer, rnd: (n: number) => number): Buffer {
  const b = Buffer.from(src);
  switch (rnd(6)) {
    case 0: // flip bits
      for (let i = 0, n = 1 + rnd(8); i < n; i++) b[rnd(b.length)]! ^= 1 << rnd(8);
      return b;
    case 1: // truncate
      return b.subarray(0, rnd(b.length));
    case 2: { // splice a random chunk elsewhere
      const a = rnd(b.length), l = rnd(Math.min(64, b.length - a) + 1), at = rnd(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(a, a + l), b.subarray(at)]);
    }
    case 3: // random bytes
      return Buffer.from(Array.from({ length: rnd(200) }, () => rnd(256)));
    case 4: { // overwrite a run with one byte
      const a = rnd(b.length);
      b.fill(rnd(256), a, Math.min(b.length, a + rnd(32)));
      return b;
    }
    default: // duplicate the tail
      return Buffer.concat([b, b.subarray(rnd(b.length))]);
  }
}

describe('fuzz: every receiver keeps serving under malformed input, and the counters add up', () => {
  let svc: Running;
  let httpPort: number;
  let grpcPort: number;
  let dir: string;
  let app: http.Server;
  let appPort: number;
  let proxyPort: number;
  const N_HTTP = 800, N_GRPC = 300, N_LINES = 1500, N_PROXY = 300;

  beforeAll(async () => {
    app = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as net.AddressInfo).port;
    httpPort = await freePort();
    grpcPort = await freePort();
    proxyPort = await freePort();
    dir = tmp();
    mkdirSync(join(dir, 'in'));
    svc = await startService(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${grpcPort}" }
      http: { endpoint: "127.0.0.1:${httpPort}" }
  file: { include: ["${dir}/in/*.jsonl"], poll_interval: 50ms }
  nettap:
    mode: proxy
    proxy: { inbound: { listen: "127.0.0.1:${proxyPort}", upstream: "http://127.0.0.1:${appPort}" } }
exporters:
  capture: {}
service:
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp, file, nettap], exporters: [capture] }
`);
  }, 60_000);
  afterAll(async () => {
    await svc?.stop();
    app.closeAllConnections();
    app.close();
  });

  const total = (name: string, labels: Record<string, string>) => svc.service.telemetry.total(name as never, labels);

  it('OTLP/HTTP (JSON and protobuf) and gRPC', async () => {
    const rnd = prng(14);
    const good = SAMPLES.slice(0, 3).map((rr) => newRecord(structuredClone(rr)));
    const json = Buffer.from(JSON.stringify(recordsToOtlpJson(good)));
    const proto = Buffer.from(encodeLogsRequest(recordsToOtlpJson(good)));
    let non2xx = 0;
    for (let i = 0; i < N_HTTP; i++) {
      const isJson = i % 2 === 0;
      const r = await post(httpPort, '/v1/logs', mutate(isJson ? json : proto, rnd), { 'content-type': isJson ? 'application/json' : 'application/x-protobuf' });
      expect(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}`).toBe(true);
      if (r.status !== 200) non2xx++;
    }
    let grpcFailed = 0;
    for (let i = 0; i < N_GRPC; i++) {
      const r = await grpcExport(grpcPort, mutate(proto, rnd));
      if (!r.ok) grpcFailed++;
    }
    // Every refused request is counted, by transport.
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { transport: 'http' })).toBe(non2xx);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { transport: 'grpc' })).toBe(grpcFailed);
    expect(non2xx).toBeGreaterThan(N_HTTP / 4);
    // Still serving valid input.
    expect((await post(httpPort, '/v1/logs', proto, { 'content-type': 'application/x-protobuf' })).status).toBe(200);
    const rcv = { component: 'otlp', kind: 'receiver' };
    expect(await total('received', rcv)).toBe((await total('accepted', rcv)) + (await total('refused', rcv)) + (await total('dead_lettered', rcv)));
  }, 240_000);

  it('file receiver: malformed lines among good ones', async () => {
    const rnd = prng(15);
    const goods = generate(50).map((r) => JSON.stringify(r));
    const lines: string[] = [];
    let good = 0;
    for (let i = 0; i < N_LINES; i++) {
      if (rnd(5) === 0) {
        lines.push(goods[good % goods.length]!.replace(/"uuid":"[^"]*"/, `"uuid":"${Buffer.from(`fuzz-good-${i}`).toString('base64')}"`));
        good++;
      } else lines.push(mutate(Buffer.from(goods[rnd(goods.length)]!), rnd).toString('utf8').replace(/\n/g, ' '));
    }
    const before = svc.sink.records.length;
    writeFileSync(join(dir, 'in', 'fuzz.jsonl'), lines.join('\n') + '\n');
    const rcv = { component: 'file', kind: 'receiver' };
    await waitFor(async () => (await total('received', rcv)) >= N_LINES - lines.filter((l) => l.trim() === '').length, { timeoutMs: 60_000, what: 'every line handled' });
    // Dead-letter writes finish after the lines were counted as received: wait for them.
    const sums = async () => ({ received: await total('received', rcv), accepted: await total('accepted', rcv), refused: await total('refused', rcv), dead: await total('dead_lettered', { component: 'file' }) });
    await waitFor(async () => {
      const x = await sums();
      return x.received === x.accepted + x.refused + x.dead;
    }, { timeoutMs: 30_000, what: 'received = accepted + refused + dead-lettered' }).catch(() => undefined);
    const { received, accepted, refused, dead } = await sums();
    expect(received).toBe(accepted + refused + dead);
    expect(dead).toBeGreaterThan(N_LINES / 2);
    expect(accepted).toBeGreaterThanOrEqual(good);
    expect(svc.sink.records.length - before).toBe(accepted);
  }, 120_000);

  it('nettap proxy: malformed HTTP requests', async () => {
    const rnd = prng(16);
    const port = proxyPort;
    const valid = Buffer.from(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello`);
    for (let i = 0; i < N_PROXY; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        const t = setTimeout(() => s.destroy(), 500);
        s.on('error', () => {});
        s.on('close', () => (clearTimeout(t), resolve()));
        s.on('data', () => s.end());
        s.end(mutate(valid, rnd));
      });
    }
    const ok = await new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/after', agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
    expect(ok).toBe(200);
  }, 120_000);

  it('pcap reader: mutated capture files', async () => {
    const rnd = prng(17);
    const f = new Flow(['10.0.0.2', 50000], ['10.0.0.1', 8080]).handshake();
    f.c('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    f.s('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    f.close();
    const valid = pcapFile(f.pkts);
    const pdir = tmp();
    for (let i = 0; i < 60; i++) {
      const file = join(pdir, `f${i}.pcap`);
      writeFileSync(file, i === 0 ? valid : mutate(valid, rnd));
      const col = new Collector();
      const rx = createNettap({ mode: 'pcap', pcap: { file, local_ports: [8080] } }, col, new Telemetry({ processMetrics: false }).forComponent('nettap', 'receiver')) as NettapPcapReceiver;
      await rx.start(testHost());
      await rx.done();
      await rx.shutdown(AbortSignal.timeout(1000));
      if (i === 0) expect(col.records).toHaveLength(1);
    }
  }, 120_000);
});
