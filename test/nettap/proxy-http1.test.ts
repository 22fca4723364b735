import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertAuthority, ensureCa } from '../../src/receivers/nettap/proxy/ca.js';
import type { NettapProxyReceiver } from '../../src/receivers/nettap/index.js';
import { missing, testHost, tmp } from '../support/index.js';
import { Collector, createNettap, decode, run } from './helpers.js';

const dir = tmp('nettap-h1-');
const big = Buffer.alloc(200_000, 'x');
let app: http.Server;
let appPort: number;
let tlsApp: https.Server;
let tlsPort: number;
let upstreamCaFile: string;
const col = new Collector();
let rx: NettapProxyReceiver;
let inPort: number;
let outPort: number;
let caFile: string;

function appHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/gzip') {
      const z = gzipSync(Buffer.from('{"hello":"compressed world"}'));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': z.length });
      res.end(z);
    } else if (url.pathname === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('part one;');
      setTimeout(() => res.end('part two'), 20);
    } else if (url.pathname === '/big') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(big);
    } else if (url.pathname === '/sse') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('data: first\n\n');
      // the second event is only sent once the client confirms it has the first: a proxy that
      // buffers the stream would deadlock here
      sseGate = () => res.end('data: second\n\n');
    } else {
      res.writeHead(201, 'Created Here', { 'Content-Type': 'application/json', 'X-Echo-Method': req.method ?? '', 'Set-Cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString('base64') }));
    }
  });
}
let sseGate: (() => void) | undefined;

beforeAll(async () => {
  process.env.POD_NAMESPACE = 'shop';
  process.env.POD_NAME = 'orders-7d9f8b6c5-x2kq4';
  app = http.createServer(appHandler);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
  // an HTTPS upstream with its own CA
  const up = ensureCa(join(dir, 'upstream-ca'));
  upstreamCaFile = up.certFile;
  const upCa = new CertAuthority(up);
  tlsApp = https.createServer({ SNICallback: (n, cb) => cb(null, upCa.contextFor(n)), ...({ secureContext: upCa.contextFor('localhost') } as object) }, appHandler);
  await new Promise<void>((r) => tlsApp.listen(0, '127.0.0.1', r));
  tlsPort = (tlsApp.address() as net.AddressInfo).port;

  rx = createNettap(
    {
      mode: 'proxy',
      max_body_size: '64KiB',
      proxy: {
        inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` },
        outbound: { listen: '127.0.0.1:0', no_intercept: ['127.0.0.1'] },
        ca_dir: join(dir, 'ca'),
        upstream_tls: { ca_file: upstreamCaFile },
      },
    },
    col,
  ) as NettapProxyReceiver;
  await rx.start(testHost());
  inPort = rx.port('IN');
  outPort = rx.port('OUT');
  caFile = rx.caCertFile!;
});

afterAll(async () => {
  await rx?.shutdown(AbortSignal.timeout(2000));
  app?.closeAllConnections();
  app?.close();
  tlsApp?.closeAllConnections();
  tlsApp?.close();
});

async function nextRecord(pred: (r: Collector['records'][number]) => boolean) {
  for (let i = 0; i < 100; i++) {
    const r = col.records.find(pred);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('record not found');
}

describe.skipIf(missing('curl', 'apt-get install curl'))('nettap proxy, HTTP/1.1', () => {
  it('records an inbound POST made with curl exactly as sent and received, in Speedscale shape', async () => {
    const body = '{"order":42,"note":"ünïcode"}';
    const r = await run('curl', ['-sS', '-D', '-', '-X', 'POST', '-H', 'Content-Type: application/json', '-H', 'X-Trace: abc', '--data-binary', body, `http://127.0.0.1:${inPort}/api/orders?limit=5&limit=6`]);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text).toMatch(/^HTTP\/1.1 201 Created Here/);
    const sentBody = text.slice(text.indexOf('\r\n\r\n') + 4);
    const rec = await nextRecord((x) => x.rrpair.location === '/api/orders');
    const rr = rec.rrpair;
    expect(rr.msgType).toBe('rrpair');
    expect(Buffer.from(rr.uuid!, 'base64')).toHaveLength(16);
    expect(rr.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Math.abs(Date.parse(rr.ts!) - Date.now())).toBeLessThan(10_000);
    expect(typeof rr.duration).toBe('number');
    expect(rr).toMatchObject({ direction: 'IN', l7protocol: 'http', command: 'POST', location: '/api/orders', status: '201', namespace: 'shop', service: 'orders' });
    expect(rr.tags).toMatchObject({ captureMode: 'proxy', proxyLocation: 'in', proxyType: 'reverse' });
    expect(rr.http!.req).toMatchObject({ url: '/api/orders', uri: '/api/orders?limit=5&limit=6', version: '1.1', method: 'POST', host: `127.0.0.1:${inPort}`, queryParams: { limit: ['5', '6'] } });
    expect(rr.http!.req!.headers!['X-Trace']).toEqual(['abc']);
    expect(rr.http!.req!.headers!['Content-Type']).toEqual(['application/json']);
    expect(decode(rr.http!.req!.bodyBase64).toString()).toBe(body);
    expect(rr.http!.res).toMatchObject({ statusCode: 201, statusMessage: '201 Created Here', contentType: 'application/json' });
    expect(rr.http!.res!.headers!['Set-Cookie']).toEqual(['a=1', 'b=2']);
    expect(decode(rr.http!.res!.bodyBase64).toString()).toBe(sentBody);
    expect(rr.netinfo).toMatchObject({ upstream: { port: appPort } });
    expect(rec.attributes).toMatchObject({ namespace: 'shop', service: 'orders' });
  });

  it('keeps connections alive, passes chunked responses and records each exchange', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: inPort, path: `/chunked?i=${i}`, agent }, (res) => {
          expect(res.headers['transfer-encoding']).toBe('chunked');
          ports.add(res.socket.localPort!);
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(s));
        });
        req.on('error', reject);
      });
      expect(got).toBe('part one;part two');
    }
    agent.destroy();
    expect(ports.size).toBe(1);
    for (let i = 0; i < 3; i++) {
      const rec = await nextRecord((x) => x.rrpair.http?.req?.uri === `/chunked?i=${i}`);
      expect(decode(rec.rrpair.http!.res!.bodyBase64).toString()).toBe('part one;part two');
    }
  });

  it('passes gzip bodies unchanged on the wire and decodes them in the record', async () => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: inPort, path: '/gzip', headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d) => c.push(d));
        res.on('end', () => resolve(Buffer.concat(c)));
      }).on('error', reject);
    });
    expect(raw).toEqual(gzipSync(Buffer.from('{"hello":"compressed world"}')));
    const rec = await nextRecord((x) => x.rrpair.location === '/gzip');
    expect(rec.rrpair.tags!.decoded).toBe('true');
    expect(rec.rrpair.http!.res!.headers!['Content-Encoding']).toEqual(['gzip']);
    expect(decode(rec.rrpair.http!.res!.bodyBase64).toString()).toBe('{"hello":"compressed world"}');
  });

  it('handles Expect: 100-continue (curl waits for the 100 before sending the body)', async () => {
    const body = 'y'.repeat(5000);
    const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', 'Expect: 100-continue', '--expect100-timeout', '10', '--data-binary', body, `http://127.0.0.1:${inPort}/upload`]);
    const [code, secs] = r.stdout.toString().split(' ');
    expect(code).toBe('201');
    expect(Number(secs)).toBeLessThan(5); // the 100 came from upstream, not curl's timeout
    const rec = await nextRecord((x) => x.rrpair.location === '/upload');
    expect(rec.rrpair.http!.req!.headers!.Expect).toEqual(['100-continue']);
    expect(decode(rec.rrpair.http!.req!.bodyBase64).toString()).toBe(body);
  });

  it('streams server-sent events through without buffering them', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: inPort, path: '/sse' }, (res) => {
        let s = '';
        res.on('data', (d) => {
          s += d;
          if (s.includes('first') && sseGate) {
            sseGate();
            sseGate = undefined;
          }
        });
        res.on('end', () => resolve(s));
      }).on('error', reject);
    });
    expect(text).toBe('data: first\n\ndata: second\n\n');
    const rec = await nextRecord((x) => x.rrpair.location === '/sse');
    expect(decode(rec.rrpair.http!.res!.bodyBase64).toString()).toBe(text);
  });

  it('truncates a body over max_body_size in the record only, and marks it', async () => {
    const r = await run('curl', ['-sS', `http://127.0.0.1:${inPort}/big`]);
    expect(r.stdout.equals(big)).toBe(true);
    const rec = await nextRecord((x) => x.rrpair.location === '/big');
    expect(rec.rrpair.tags!.responseBodyTruncated).toBe('true');
    expect(decode(rec.rrpair.http!.res!.bodyBase64)).toEqual(big.subarray(0, 64 * 1024));
    expect((rec.rrpair.netinfo as { responseBytes: number }).responseBytes).toBe(big.length);
  });

  it('forwards plain HTTP through the outbound proxy (curl -x) with direction OUT', async () => {
    const r = await run('curl', ['-sS', '-x', `http://127.0.0.1:${outPort}`, '--data-binary', 'hello out', `http://127.0.0.1:${appPort}/out/plain`]);
    expect(r.code).toBe(0);
    const rec = await nextRecord((x) => x.rrpair.location === '/out/plain');
    expect(rec.rrpair).toMatchObject({ direction: 'OUT', l7protocol: 'http', command: 'POST', status: '201' });
    expect(rec.rrpair.tags).toMatchObject({ proxyLocation: 'out', proxyType: 'forward' });
    expect(decode(rec.rrpair.http!.req!.bodyBase64).toString()).toBe('hello out');
    expect(decode(rec.rrpair.http!.res!.bodyBase64).toString()).toBe(r.stdout.toString());
  });

  it('intercepts HTTPS through CONNECT with the generated CA (curl trusts only that CA)', async () => {
    const r = await run('curl', ['-sS', '--cacert', caFile, '-x', `http://127.0.0.1:${outPort}`, '--data-binary', 'secret payload', `https://localhost:${tlsPort}/secure/path?x=1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rec = await nextRecord((x) => x.rrpair.location === '/secure/path');
    expect(rec.rrpair).toMatchObject({ direction: 'OUT', l7protocol: 'https', command: 'POST', status: '201', network_address: `localhost:${tlsPort}` });
    expect(decode(rec.rrpair.http!.req!.bodyBase64).toString()).toBe('secret payload');
    expect(decode(rec.rrpair.http!.res!.bodyBase64).toString()).toBe(r.stdout.toString());
    // `rrpipe ca` prints the same certificate
    const pem = readFileSync(caFile, 'utf8');
    expect(pem).toMatch(/BEGIN CERTIFICATE/);
  });

  it('passes a non-intercepted tunnel through and records only its metadata', async () => {
    const sock = net.connect(outPort, '127.0.0.1');
    await new Promise((res) => sock.once('connect', res));
    sock.write(`CONNECT 127.0.0.1:${appPort} HTTP/1.1\r\nHost: 127.0.0.1:${appPort}\r\n\r\n`);
    const answer = await new Promise<string>((res) => sock.once('data', (d) => res(d.toString())));
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    {
      sock.write('GET /inside HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const inner = await new Promise<string>((res) => {
        let s = '';
        sock.on('data', (d) => (s += d));
        sock.on('close', () => res(s));
      });
      expect(inner).toMatch(/^HTTP\/1.1 201/);
      const rec = await nextRecord((x) => x.rrpair.command === 'CONNECT');
      expect(rec.rrpair).toMatchObject({ direction: 'OUT', location: `127.0.0.1:${appPort}`, status: '200', tags: { intercepted: 'false' } });
      expect((rec.rrpair.netinfo as { requestBytes: number }).requestBytes).toBeGreaterThan(20);
    }
  });
});

describe('nettap proxy, bad input', () => {
  it('answers garbage with 400 and keeps serving', async () => {
    const sock = net.connect(inPort, '127.0.0.1');
    sock.write('\x00\x01garbage that is not http\r\n\r\n');
    const reply = await new Promise<string>((res) => {
      let s = '';
      sock.on('data', (d) => (s += d));
      sock.on('close', () => res(s));
    });
    expect(reply).toMatch(/^HTTP\/1.1 400/);
    const ok = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${inPort}/still/ok`]);
    expect(ok.stdout.toString()).toBe('201');
  });

  it('answers a half-closed client (request sent, then FIN) with the full response', async () => {
    const sock = net.connect(inPort, '127.0.0.1');
    sock.end('GET /half/closed HTTP/1.1\r\nHost: x\r\n\r\n');
    const reply = await new Promise<string>((res) => {
      let s = '';
      sock.on('data', (d) => (s += d));
      sock.on('close', () => res(s));
    });
    expect(reply).toMatch(/^HTTP\/1.1 201/);
    expect(reply).toContain('/half/closed');
  });

  it('answers 502 when the upstream is down, and records the failure', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    dead.close();
    const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${outPort}`, `http://127.0.0.1:${port}/nobody/home`]);
    expect(r.stdout.toString()).toBe('502');
    const rec = await nextRecord((x) => x.rrpair.location === '/nobody/home');
    expect(rec.rrpair.status).toBe('502');
    expect(rec.rrpair.tags!.error).toMatch(/ECONNREFUSED/);
  });
});

void writeFileSync;
