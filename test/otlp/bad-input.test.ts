import * as grpc from '@grpc/grpc-js';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson, toAnyValue } from '../../src/rrpair/otlp.js';
import { decodeLogsResponse, decodeStatusMessage, encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { grpcExport, post } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { freePort } from '../support/index.js';
import { deepAnyValue, deepKvlistRequest, pbField, SAMPLES } from './support.js';

const PROTO = { 'content-type': 'application/x-protobuf' };
const JSONCT = { 'content-type': 'application/json' };
const REFUSED = 'rrpipe_otlp_requests_refused_total';

function goodDoc(n = 2) {
  return recordsToOtlpJson(SAMPLES.slice(0, n).map((rr) => newRecord(structuredClone(rr))));
}

describe('otlp receiver: bad input gets a clear 4xx / gRPC status, is counted, and the daemon keeps serving', () => {
  let svc: Running;
  let httpPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    grpcPort = await freePort();
    svc = await startService({
      grpc: `endpoint: "127.0.0.1:${grpcPort}", max_recv_msg_size_mib: 1`,
      http: `endpoint: "127.0.0.1:${httpPort}", max_request_body_size: 1MiB`,
    });
  });
  afterAll(async () => svc?.stop());

  async function stillServes(): Promise<void> {
    const before = svc.sink.records.length;
    const r = await post(httpPort, '/v1/logs', Buffer.from(encodeLogsRequest(goodDoc(1))), PROTO);
    expect(r.status).toBe(200);
    const g = await grpcExport(grpcPort, Buffer.from(encodeLogsRequest(goodDoc(1))));
    expect(g.ok).toBe(true);
    await svc.sink.waitFor(before + 2);
  }

  const refused = (transport: string, reason: string) => counterValue(svc.service, REFUSED, { transport, reason });

  it('truncated protobuf → 400 with a google.rpc.Status body', async () => {
    const good = Buffer.from(encodeLogsRequest(goodDoc()));
    const r = await post(httpPort, '/v1/logs', good.subarray(0, good.length - 50), PROTO);
    expect(r.status).toBe(400);
    expect(decodeStatusMessage(r.body)).toMatch(/truncated|past the end|protobuf/);
    expect(await refused('http', 'malformed')).toBeGreaterThanOrEqual(1);
    await stillServes();
  });

  it('corrupt protobuf → 400 (HTTP) and INVALID_ARGUMENT (gRPC)', async () => {
    const junk = Buffer.from([0x0a, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x12, 0x80]);
    const r = await post(httpPort, '/v1/logs', junk, PROTO);
    expect(r.status).toBe(400);
    const before = await refused('grpc', 'malformed');
    const g = await grpcExport(grpcPort, junk);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await refused('grpc', 'malformed')).toBe(before + 1);
    await stillServes();
  });

  it('a protobuf string field with invalid UTF-8 → 400 / INVALID_ARGUMENT (as Go protobuf refuses it), nothing of the request delivered', async () => {
    const doc = goodDoc(2) as { resourceLogs: { resource: { attributes: unknown[] } }[] };
    doc.resourceLogs[0]!.resource.attributes.push({ key: 'marker', value: { stringValue: 'UTF8MARK' } });
    const buf = Buffer.from(encodeLogsRequest(doc));
    const at = buf.indexOf('UTF8MARK');
    expect(at).toBeGreaterThan(0);
    buf.set([0xc3, 0x28, 0xff, 0xfe], at); // an invalid two-byte sequence, then bytes never valid in UTF-8
    const delivered = svc.sink.records.length;
    const beforeHttp = await refused('http', 'invalid_utf8');
    const r = await post(httpPort, '/v1/logs', buf, PROTO);
    expect(r.status).toBe(400);
    expect(decodeStatusMessage(r.body)).toMatch(/not valid UTF-8/);
    const g = await grpcExport(grpcPort, buf);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await refused('http', 'invalid_utf8')).toBe(beforeHttp + 1);
    expect(await refused('grpc', 'invalid_utf8')).toBeGreaterThanOrEqual(1);
    expect(svc.sink.records.length).toBe(delivered);
    await stillServes();
  });

  it('invalid JSON → 400 with a JSON Status body', async () => {
    const before = await refused('http', 'malformed');
    const r = await post(httpPort, '/v1/logs', '{"resourceLogs": [ {"scopeLogs": ', JSONCT);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: 3, message: expect.stringMatching(/invalid JSON/) });
    const r2 = await post(httpPort, '/v1/logs', '{"resourceLogs": 7}', JSONCT);
    expect(r2.status).toBe(400);
    expect(await refused('http', 'malformed')).toBe(before + 2);
    await stillServes();
  });

  it('wrong content type → 415; wrong path → 404; GET → 405', async () => {
    const r = await post(httpPort, '/v1/logs', 'hello', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(await refused('http', 'unsupported_media_type')).toBe(1);
    expect((await post(httpPort, '/v1/traces', '{}', JSONCT)).status).toBe(404);
    expect((await post(httpPort, '/v1/logs', '', JSONCT, 'GET')).status).toBe(405);
    await stillServes();
  });

  it('a body over max_request_body_size → 413 (HTTP); a message over max_recv_msg_size_mib → RESOURCE_EXHAUSTED (gRPC)', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 0x41);
    const r = await post(httpPort, '/v1/logs', big, PROTO);
    expect(r.status).toBe(413);
    expect(await refused('http', 'too_large')).toBe(1);
    const g = await grpcExport(grpcPort, big);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await stillServes();
  });

  it('a gzip bomb (small compressed, 64 MiB uncompressed) → 413 without inflating it all', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = await refused('http', 'too_large');
    const r = await post(httpPort, '/v1/logs', bomb, { ...PROTO, 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(decodeStatusMessage(r.body)).toMatch(/after decompression/);
    expect(await refused('http', 'too_large')).toBe(before + 1);
    // corrupt gzip
    const bad = await post(httpPort, '/v1/logs', Buffer.from('not gzip at all'), { ...PROTO, 'content-encoding': 'gzip' });
    expect(bad.status).toBe(400);
    const lz4 = await post(httpPort, '/v1/logs', Buffer.from('x'), { ...PROTO, 'content-encoding': 'lz4' });
    expect(lz4.status).toBe(415);
    await stillServes();
  });

  it('a kvlist nested 10,000 deep: in a resource 400 / INVALID_ARGUMENT; in a LogRecord that record rejected alone; no stack overflow', async () => {
    const deepResource = deepKvlistRequest(10_000, 'resource');
    const r = await post(httpPort, '/v1/logs', deepResource, PROTO);
    expect(r.status).toBe(400);
    expect(decodeStatusMessage(r.body)).toBe('value nested deeper than 64 levels');
    const g = await grpcExport(grpcPort, deepResource);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const inRecord = await post(httpPort, '/v1/logs', deepKvlistRequest(10_000), PROTO);
    expect(inRecord.status).toBe(200);
    expect(decodeLogsResponse(inRecord.body)).toEqual({ rejectedLogRecords: 1, errorMessage: expect.stringMatching(/value nested deeper than 64 levels/) });
    // the same as OTLP/JSON
    const deepJson = '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(10_000) + '{"stringValue":"x"}' + '}]}}'.repeat(10_000);
    const rj = await post(httpPort, '/v1/logs', `{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":${deepJson}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`, JSONCT);
    expect(rj.status).toBe(400);
    expect(JSON.parse(rj.body.toString())).toMatchObject({ code: 3, message: 'value nested deeper than 64 levels' });
    const rjRecord = await post(httpPort, '/v1/logs', `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${deepJson}}]}]}]}`, JSONCT);
    expect(rjRecord.status).toBe(200);
    expect(JSON.parse(rjRecord.body.toString())).toMatchObject({ partialSuccess: { rejectedLogRecords: '1', errorMessage: expect.stringMatching(/value nested deeper than 64 levels/) } });
    expect(await refused('http', 'too_deep')).toBe(2);
    expect(await refused('grpc', 'too_deep')).toBe(1);
    await stillServes();
  });

  describe('one bad LogRecord among good ones is rejected alone (partial success); the good ones are delivered', () => {
    /** [good, bad, good] with distinct uuids; `bad` changes the middle RRPair. */
    function mixed(tag: string, bad: (rr: Record<string, unknown>) => void) {
      const recs = [0, 1, 2].map((i) => {
        const rr = structuredClone(SAMPLES[0]!) as Record<string, unknown>;
        rr.uuid = `${tag}-${i}`;
        if (i === 1) bad(rr);
        return newRecord(rr as never);
      });
      return recordsToOtlpJson(recs);
    }
    /**
     * [good, bad, good] whose middle RRPair has `extra` nested 70 deep (a kvlist of key "k" holding
     * the next one), built by hand: protobufjs's encoder and newRecord refuse to nest this deep.
     */
    function deepMixed(tag: string, enc: 'json' | 'proto'): Buffer | string {
      const fields = (i: number): [string, string][] => [['msgType', 'rrpair'], ['ts', '2025-01-01T00:00:00Z'], ['l7protocol', 'http'], ['uuid', `${tag}-${i}`]];
      if (enc === 'json') {
        let deep: unknown = { stringValue: 'x' };
        for (let i = 0; i < 70; i++) deep = { kvlistValue: { values: [{ key: 'k', value: deep }] } };
        const body = (i: number) => ({ kvlistValue: { values: [...fields(i).map(([key, v]) => ({ key, value: { stringValue: v } })), ...(i === 1 ? [{ key: 'extra', value: deep }] : [])] } });
        return JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [0, 1, 2].map((i) => ({ body: body(i) })) }] }] });
      }
      const kv = (key: string, value: Buffer) => pbField(1, Buffer.concat([pbField(1, Buffer.from(key)), pbField(2, value)]));
      const record = (i: number) => pbField(2, pbField(5, pbField(6, Buffer.concat([
        ...fields(i).map(([k, v]) => kv(k, pbField(1, Buffer.from(v)))),
        ...(i === 1 ? [kv('extra', deepAnyValue(70))] : []),
      ]))));
      return pbField(1, pbField(2, Buffer.concat([0, 1, 2].map(record))));
    }
    const delivered = (tag: string) => svc.sink.records.map((r) => String(r.rrpair.uuid)).filter((u) => u.startsWith(`${tag}-`)).sort();
    const dropped = () => counterValue(svc.service, 'rrpipe_records_dropped_total', { reason: 'invalid log record' });

    it('a value nested 70 deep: JSON and protobuf (HTTP and gRPC) answer 200 / OK with rejected_log_records 1 and the same message', async () => {
      const before = await dropped();
      const rj = await post(httpPort, '/v1/logs', deepMixed('deep-json', 'json'), JSONCT);
      expect(rj.status).toBe(200);
      expect(JSON.parse(rj.body.toString())).toEqual({ partialSuccess: { rejectedLogRecords: '1', errorMessage: '1 log record(s) rejected: value nested deeper than 64 levels' } });
      const rp = await post(httpPort, '/v1/logs', deepMixed('deep-proto', 'proto'), PROTO);
      expect(rp.status).toBe(200);
      expect(decodeLogsResponse(rp.body)).toEqual({ rejectedLogRecords: 1, errorMessage: '1 log record(s) rejected: value nested deeper than 64 levels' });
      const g = await grpcExport(grpcPort, deepMixed('deep-grpc', 'proto') as Buffer);
      expect(g.ok).toBe(true);
      if (g.ok) expect(decodeLogsResponse(g.body)).toMatchObject({ rejectedLogRecords: 1 });
      for (const tag of ['deep-json', 'deep-proto', 'deep-grpc']) expect(delivered(tag)).toEqual([`${tag}-0`, `${tag}-2`]);
      expect(await dropped()).toBe(before + 3);
    });

    it('a protobuf string that is not UTF-8 inside one LogRecord: that record rejected, the others delivered', async () => {
      const before = await dropped();
      const buf = Buffer.from(encodeLogsRequest(mixed('utf8', (rr) => (rr.service = 'UTF8MARK'))));
      buf.set([0xc3, 0x28, 0xff, 0xfe], buf.indexOf('UTF8MARK'));
      const r = await post(httpPort, '/v1/logs', buf, PROTO);
      expect(r.status).toBe(200);
      expect(decodeLogsResponse(r.body)).toEqual({ rejectedLogRecords: 1, errorMessage: expect.stringMatching(/^1 log record\(s\) rejected: protobuf: a string field at byte \d+ is not valid UTF-8$/) });
      expect(delivered('utf8')).toEqual(['utf8-0', 'utf8-2']);
      expect(await dropped()).toBe(before + 1);
    });
  });

  it('a LogRecord that is not an RRPair is dropped and reported as partial success; the others are delivered', async () => {
    const doc = goodDoc(2) as { resourceLogs: { scopeLogs: { logRecords: object[] }[] }[] };
    doc.resourceLogs[0]!.scopeLogs[0]!.logRecords.push({ body: toAnyValue('just a log line') });
    const before = svc.sink.records.length;
    const r = await post(httpPort, '/v1/logs', Buffer.from(encodeLogsRequest(doc)), PROTO);
    expect(r.status).toBe(200);
    expect(decodeLogsResponse(r.body)).toEqual({ rejectedLogRecords: 1, errorMessage: expect.stringMatching(/not an RRPair/) });
    await svc.sink.waitFor(before + 2);
    expect(await counterValue(svc.service, 'rrpipe_otlp_non_rrpair_records_total', { action: 'drop' })).toBe(1);
    const rj = await post(httpPort, '/v1/logs', JSON.stringify(doc), JSONCT);
    expect(JSON.parse(rj.body.toString())).toMatchObject({ partialSuccess: { rejectedLogRecords: '1' } });
  });
});
