import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { grpcExport, post, stalledUpload, type Raw } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { SAMPLES } from './support.js';
import { freePort } from '../support/index.js';

/** A protobuf request of about `bytes` with a distinct uuid per record. */
function request(tag: string, bytes: number): Buffer {
  const per = Math.max(1, Math.floor(bytes / 2000));
  const recs = Array.from({ length: per }, (_, i) => {
    const rr = structuredClone(SAMPLES[0]!) as Record<string, unknown>;
    rr.uuid = Buffer.from(`${tag}-${i}`).toString('base64');
    rr.tags = { pad: 'x'.repeat(1500) };
    return newRecord(rr as never);
  });
  return Buffer.from(encodeLogsRequest(recordsToOtlpJson(recs)));
}

describe('otlp receiver: in-flight request bytes are bounded (admission.request_limit_mib)', () => {
  let svc: Running;
  let httpPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    grpcPort = await freePort();
    svc = await startService({
      receiver: 'admission: { request_limit_mib: 1 }',
      grpc: `endpoint: "127.0.0.1:${grpcPort}"`,
      http: `endpoint: "127.0.0.1:${httpPort}"`,
      capture: 'sending_queue: { enabled: false }',
    });
  });
  afterAll(async () => svc?.stop());

  it('refuses with 429 / RESOURCE_EXHAUSTED beyond the bound while others are in flight, admits again after, and counts it', async () => {
    const proto = { 'content-type': 'application/x-protobuf' };
    svc.sink.stall();
    const a = request('a', 700_000);
    const held = post(httpPort, '/v1/logs', a, proto); // admitted, held in the stalled pipeline
    await new Promise((r) => setTimeout(r, 300));
    const b = request('b', 700_000);
    const refusedHttp = await post(httpPort, '/v1/logs', b, proto);
    expect(refusedHttp.status).toBe(429);
    expect(refusedHttp.headers['retry-after']).toBeDefined();
    const refusedGrpc = await grpcExport(grpcPort, b);
    expect(refusedGrpc.ok).toBe(false);
    if (!refusedGrpc.ok) expect(refusedGrpc.err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'admission_limit' })).toBe(2);
    svc.sink.release();
    expect((await held).status).toBe(200);
    // The bound is free again: the refused request goes through, and a lone request larger than
    // the bound is admitted (max_request_body_size caps single requests).
    expect((await post(httpPort, '/v1/logs', b, proto)).status).toBe(200);
    expect((await post(httpPort, '/v1/logs', request('c', 1_500_000), proto)).status).toBe(200);
    const uuids = new Set(svc.sink.records.map((r) => String(r.rrpair.uuid)));
    expect(uuids.size).toBe(svc.sink.records.length);
  });

  it('uploads that declare the whole bound and stall are charged what they sent: other requests (HTTP and gRPC) still get in', async () => {
    // Each declares the whole 1 MiB bound, sends 10 bytes and stops; and a chunked one likewise.
    const raws: Raw[] = [];
    for (let i = 0; i < 4; i++) raws.push(await stalledUpload(httpPort, 1024 * 1024));
    raws.push(await stalledUpload(httpPort, 'chunked'));
    try {
      const before = svc.sink.records.length;
      const refusedBefore = await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'admission_limit' });
      expect((await post(httpPort, '/v1/logs', request('s', 2000), { 'content-type': 'application/x-protobuf' })).status).toBe(200);
      expect((await grpcExport(grpcPort, request('t', 2000))).ok).toBe(true);
      await svc.sink.waitFor(before + 2);
      expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'admission_limit' })).toBe(refusedBefore);
      // Nor were the stalled uploads refused: they are still waiting for their bodies.
      for (const raw of raws) expect(raw.received()).not.toMatch(/HTTP\/1\.1 [1-9]\d\d (?!Continue)/);
    } finally {
      for (const raw of raws) raw.socket.destroy();
    }
  });
});
