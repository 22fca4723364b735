import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { post, stalledUpload } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { SAMPLES } from './support.js';
import { freePort } from '../support/index.js';

const PROTO = { 'content-type': 'application/x-protobuf' };

function goodRequest(): Buffer {
  return Buffer.from(encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))])));
}

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
