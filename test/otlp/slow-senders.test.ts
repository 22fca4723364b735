import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { grpcExport, post } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { SAMPLES } from './support.js';
import { freePort } from '../support/index.js';

const PROTO = { 'content-type': 'application/x-protobuf' };

function goodRequest(): Buffer {
  return Buffer.from(encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))])));
}

/** What a raw connection got back, once the server closed it. */
interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

/**
 * A POST that declares `declared` bytes and sends `send` of them, then nothing. With
 * `Expect: 100-continue` Node calls the request handler before it answers "100 Continue", so once
 * that arrives the receiver has seen the request (and, before the fix, charged its declared length).
 */
function stalledUpload(port: number, declared: number | 'chunked', send = 10): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let started = false;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', (err) => (started ? undefined : reject(err)));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (!started && text.includes('100 Continue')) {
        started = true;
        socket.write(declared === 'chunked' ? `${send.toString(16)}\r\n${'x'.repeat(send)}\r\n` : Buffer.alloc(send));
        resolve({ socket, received: () => text, closed });
      }
    });
    const length = declared === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${declared}`;
    socket.write(`POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n${length}\r\nExpect: 100-continue\r\n\r\n`);
  });
}

describe('otlp receiver: stalled uploads do not hold the admission bound', () => {
  let svc: Running;
  let httpPort: number;
  let grpcPort: number;
  const open: Socket[] = [];

  beforeAll(async () => {
    httpPort = await freePort();
    grpcPort = await freePort();
    svc = await startService({
      receiver: 'admission: { request_limit_mib: 1 }',
      grpc: `endpoint: "127.0.0.1:${grpcPort}"`,
      http: `endpoint: "127.0.0.1:${httpPort}"`,
    });
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });
  afterAll(async () => svc?.stop());

  it('uploads that declare most of the bound and stall are charged what they sent: other requests (HTTP and gRPC) still get in', async () => {
    // Each declares the whole 1 MiB bound, sends 10 bytes and stops; and a chunked one.
    const raws: Raw[] = [];
    for (let i = 0; i < 4; i++) raws.push(await stalledUpload(httpPort, 1024 * 1024));
    raws.push(await stalledUpload(httpPort, 'chunked'));
    open.push(...raws.map((r) => r.socket));
    const before = svc.sink.records.length;
    const r = await post(httpPort, '/v1/logs', goodRequest(), PROTO);
    expect(r.status).toBe(200);
    const g = await grpcExport(grpcPort, goodRequest());
    expect(g.ok).toBe(true);
    await svc.sink.waitFor(before + 2);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'admission_limit' })).toBe(0);
    // The stalled uploads were not refused either: they are still waiting for their bodies.
    for (const raw of raws) expect(raw.received()).not.toMatch(/HTTP\/1\.1 [1-9]\d\d (?!Continue)/);
  });
});

describe('otlp receiver: read_timeout cuts off a sender that stalls', () => {
  let svc: Running;
  let httpPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    svc = await startService({ http: `endpoint: "127.0.0.1:${httpPort}", read_timeout: 200ms, read_header_timeout: 200ms` });
  });
  afterAll(async () => svc?.stop());

  it('a body that stops coming gets 408, the connection is closed, and it is counted as refused (read_timeout)', async () => {
    const raw = await stalledUpload(httpPort, 1000);
    await raw.closed;
    expect(raw.received()).toMatch(/HTTP\/1\.1 408 Request Timeout[^]*read_timeout/);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { transport: 'http', reason: 'read_timeout' })).toBe(1);
    // Headers that never end are cut off the same way.
    const s = connect(httpPort, '127.0.0.1');
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.write('POST /v1/logs HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => s.once('close', r));
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'read_timeout' })).toBe(2);
    // A request sent in one go is unaffected.
    expect((await post(httpPort, '/v1/logs', goodRequest(), PROTO)).status).toBe(200);
  });
});
