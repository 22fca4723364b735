import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import http from 'node:http';
import { CertAuthority, ensureCa } from '../../src/receivers/nettap/proxy/ca.js';
import type { NettapProxyReceiver } from '../../src/receivers/nettap/index.js';
import { missing, testHost, tmp } from '../support/index.js';
import { Collector, createNettap, decode, run } from './helpers.js';

const dir = tmp('nettap-h2-');
const col = new Collector();
let h2app: http2.Http2Server;
let h2tls: http2.Http2SecureServer;
let grpcServer: grpc.Server;
let wsHttp: http.Server;
let rxH2: NettapProxyReceiver;
let rxGrpc: NettapProxyReceiver;
let rxWs: NettapProxyReceiver;
let tlsPort: number;

const echoDef = {
  say: { path: '/test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
  fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
};

function h2handler(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const c: Buffer[] = [];
  stream.on('data', (d: Buffer) => c.push(d));
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-h2': 'yes' });
    stream.end(JSON.stringify({ path: headers[':path'], body: Buffer.concat(c).toString() }));
  });
}

async function proxyFor(upstream: string, extra: Record<string, unknown> = {}): Promise<NettapProxyReceiver> {
  const rx = createNettap({ mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream }, ca_dir: join(dir, 'ca'), ...extra } }, col) as NettapProxyReceiver;
  await rx.start(testHost());
  return rx;
}

beforeAll(async () => {
  h2app = http2.createServer();
  h2app.on('stream', h2handler);
  await new Promise<void>((r) => h2app.listen(0, '127.0.0.1', r));
  rxH2 = await proxyFor(`http://127.0.0.1:${(h2app.address() as net.AddressInfo).port}`);

  const upCa = ensureCa(join(dir, 'upstream-ca'));
  const ca = new CertAuthority(upCa);
  h2tls = http2.createSecureServer({ SNICallback: (n, cb) => cb(null, ca.contextFor(n)), ...({ secureContext: ca.contextFor('localhost') } as object) });
  h2tls.on('stream', h2handler);
  await new Promise<void>((r) => h2tls.listen(0, '127.0.0.1', r));
  tlsPort = (h2tls.address() as net.AddressInfo).port;

  grpcServer = new grpc.Server();
  grpcServer.addService(echoDef, {
    say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }),
  });
  const gport = await new Promise<number>((res, rej) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  rxGrpc = await proxyFor(`http://127.0.0.1:${gport}`);

  wsHttp = http.createServer();
  const wss = new WebSocketServer({ server: wsHttp });
  wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `echo ${m.toString()}`)));
  await new Promise<void>((r) => wsHttp.listen(0, '127.0.0.1', r));
  rxWs = createNettap({ mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${(wsHttp.address() as net.AddressInfo).port}` }, outbound: { listen: '127.0.0.1:0' }, ca_dir: join(dir, 'ca'), upstream_tls: { ca_file: upCa.certFile } } }, col) as NettapProxyReceiver;
  await rxWs.start(testHost());
});

afterAll(async () => {
  for (const rx of [rxH2, rxGrpc, rxWs]) await rx?.shutdown(AbortSignal.timeout(1000));
  h2app?.close();
  h2tls?.close();
  grpcServer?.forceShutdown();
  wsHttp?.closeAllConnections();
  wsHttp?.close();
});

async function find(pred: (r: Collector['records'][number]) => boolean) {
  for (let i = 0; i < 100; i++) {
    const r = col.records.find(pred);
    if (r) return r.rrpair;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`record not found among ${col.records.map((r) => `${r.rrpair.command} ${r.rrpair.location} ${r.rrpair.status} ${r.rrpair.tags?.error ?? ''}`).join(' | ')}`);
}

describe('nettap proxy, HTTP/2, gRPC and WebSocket', () => {
  it('proxies h2c (prior knowledge) and records version 2.0', async () => {
    const session = http2.connect(`http://127.0.0.1:${rxH2.port('IN')}`);
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':method': 'POST', ':path': '/h2/items?q=1', 'content-type': 'text/plain' });
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.end('h2 body');
    });
    session.close();
    expect(JSON.parse(body)).toEqual({ path: '/h2/items?q=1', body: 'h2 body' });
    const rr = await find((r) => r.rrpair.location === '/h2/items');
    expect(rr).toMatchObject({ l7protocol: 'http', command: 'POST', status: '200', direction: 'IN', http: { req: { version: '2.0', uri: '/h2/items?q=1' } } });
    expect(decode(rr.http!.req!.bodyBase64).toString()).toBe('h2 body');
    expect(decode(rr.http!.res!.bodyBase64).toString()).toBe(body);
    expect(rr.http!.res!.headers!['X-H2']).toEqual(['yes']);
  });

  it('proxies gRPC (@grpc/grpc-js) with trailers, and records it as grpc', async () => {
    const Client = grpc.makeGenericClientConstructor(echoDef, 'Echo');
    const client = new Client(`127.0.0.1:${rxGrpc.port('IN')}`, grpc.credentials.createInsecure()) as unknown as Record<string, (req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void>;
    const reply = await new Promise<Buffer>((resolve, reject) => client.say!(Buffer.from('ping'), (err, res) => (err ? reject(err) : resolve(res!))));
    expect(reply.toString()).toBe('echo:ping');
    const err = await new Promise<grpc.ServiceError>((resolve) => client.fail!(Buffer.from('x'), (e) => resolve(e!)));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('no such thing');
    (client as unknown as grpc.Client).close();
    const rr = await find((r) => r.rrpair.location === '/test.Echo/Say');
    expect(rr).toMatchObject({ l7protocol: 'grpc', command: 'POST', status: '200', grpc: { service: 'test.Echo', method: 'Say', status: '0' } });
    const frame = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, s.length]), Buffer.from(s)]);
    expect(decode(rr.http!.req!.bodyBase64)).toEqual(frame('ping'));
    expect(decode(rr.http!.res!.bodyBase64)).toEqual(frame('echo:ping'));
    const failed = await find((r) => r.rrpair.location === '/test.Echo/Fail');
    expect((failed.grpc as { status: string }).status).toBe(String(grpc.status.NOT_FOUND));
  });

  it.skipIf(missing('curl', 'apt-get install curl'))('intercepts HTTP/2 over TLS (ALPN h2) through CONNECT', async () => {
    const r = await run('curl', ['-sS', '--http2', '--cacert', rxWs.caCertFile!, '-x', `http://127.0.0.1:${rxWs.port('OUT')}`, '-w', '\n%{http_version}', '--data-binary', 'over tls', `https://localhost:${tlsPort}/tls/h2`]);
    expect(r.stderr).toBe('');
    const out = r.stdout.toString();
    const body = out.slice(0, out.lastIndexOf('\n'));
    const version = out.slice(out.lastIndexOf('\n') + 1);
    expect(version).toBe('2');
    const rr = await find((x) => x.rrpair.location === '/tls/h2');
    expect(rr).toMatchObject({ l7protocol: 'https', direction: 'OUT', http: { req: { version: '2.0', host: `localhost:${tlsPort}` } } });
    expect(decode(rr.http!.req!.bodyBase64).toString()).toBe('over tls');
    expect(decode(rr.http!.res!.bodyBase64).toString()).toBe(body);
  });

  it('passes WebSocket upgrades through (ws package) and records the handshake', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${rxWs.port('IN')}/socket`);
    await new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
    });
    const got: string[] = [];
    for (const m of ['one', 'two']) {
      ws.send(m);
      got.push(await new Promise<string>((res) => ws.once('message', (d) => res(d.toString()))));
    }
    ws.send(Buffer.from([1, 2, 3]));
    const bin = await new Promise<Buffer>((res) => ws.once('message', (d) => res(d as Buffer)));
    ws.close();
    expect(got).toEqual(['echo one', 'echo two']);
    expect([...bin]).toEqual([1, 2, 3]);
    const rr = await find((r) => r.rrpair.location === '/socket');
    expect(rr).toMatchObject({ command: 'GET', status: '101', tags: { upgrade: 'websocket' } });
    expect(rr.http!.req!.headers!['Sec-Websocket-Key']).toHaveLength(1);
  });
});
