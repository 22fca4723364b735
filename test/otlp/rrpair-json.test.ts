import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord, rrpairJsonOf, type Attrs } from '../../src/core/record.js';
import { logsRequestToRecords, recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { decodeLogsRequest, decodeLogsRequestReference, encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { freePort, tmp } from '../support/index.js';
import { post } from './client.js';
import { startService, type Running } from './harness.js';
import { expectedRRPair, SAMPLES } from './support.js';

const decoded = (bytes: Uint8Array) => logsRequestToRecords(decodeLogsRequest(bytes), { nonRRPair: 'keep' }).records;
const reference = (bytes: Uint8Array) => logsRequestToRecords(decodeLogsRequestReference(bytes), { nonRRPair: 'keep' }).records;

/** One request whose only log body is this kvlist (KeyValues as given, so keys may repeat). */
function kvlistRequest(values: unknown[], attributes: unknown[] = []): Uint8Array {
  return encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { kvlistValue: { values } }, attributes }] }] }] });
}

const s = (v: string) => ({ stringValue: v });
const rrpairKeys = [
  { key: 'msgType', value: s('rrpair') },
  { key: 'ts', value: s('2025-03-18T00:41:46.221941Z') },
];

describe('otlp: the RRPair JSON text read with a protobuf kvlist body', () => {
  it('is exactly JSON.stringify of the RRPair for every sample, with identity fields filled in place or added', () => {
    for (const attrs of [{ service: 'svc', namespace: 'ns' }, {}, { service: 'sérvice "✓"\n' }] as Attrs[]) {
      const recs = SAMPLES.map((rr, i) => {
        const copy = structuredClone(rr);
        if (i % 3 === 0) delete copy.cluster; // absent: added at the end, where the object puts it
        return newRecord(copy, { resource: { cluster: 'c' }, attributes: attrs });
      });
      const bytes = encodeLogsRequest(recordsToOtlpJson(recs));
      const mine = decoded(bytes);
      const ref = reference(bytes);
      expect(mine.map((r) => r.rrpair)).toEqual(ref.map((r) => r.rrpair));
      for (const r of mine) expect(rrpairJsonOf(r)?.toString()).toBe(JSON.stringify(r.rrpair));
    }
  });

  it('is not kept where an object would not write it back the same (repeated or index-like keys); the RRPair is still right', () => {
    for (const values of [
      [...rrpairKeys, { key: 'a', value: s('1') }, { key: 'a', value: s('2') }],
      [...rrpairKeys, { key: 'h', value: { kvlistValue: { values: [{ key: 'b', value: s('x') }, { key: '10', value: s('y') }] } } }],
    ]) {
      const bytes = kvlistRequest(values);
      const [r] = decoded(bytes);
      expect(r!.rrpair).toEqual(reference(bytes)[0]!.rrpair);
      expect(rrpairJsonOf(r!)).toBeUndefined();
    }
  });

  it('leaves to the object reader what JSON cannot carry (__proto__, NaN, -0, two values in one AnyValue, a missing key)', () => {
    for (const values of [
      [...rrpairKeys, { key: '__proto__', value: { kvlistValue: { values: [{ key: 'x', value: s('y') }] } } }],
      [...rrpairKeys, { key: 'n', value: { doubleValue: NaN } }],
      [...rrpairKeys, { key: 'z', value: { doubleValue: -0 } }],
      [...rrpairKeys, { value: s('no key') }],
    ]) {
      const bytes = kvlistRequest(values);
      const [r] = decoded(bytes);
      const want = reference(bytes)[0]!.rrpair;
      expect(r!.rrpair).toEqual(want);
      expect(Object.keys(r!.rrpair)).toEqual(Object.keys(want));
      expect(Object.getPrototypeOf(r!.rrpair)).toEqual(Object.getPrototypeOf(want));
      expect(rrpairJsonOf(r!)).toBeUndefined();
    }
    // An AnyValue with a string and an int on the wire: the string wins, as before.
    const two = kvlistRequest([...rrpairKeys, { key: 'v', value: { stringValue: 'str', intValue: 5 } }]);
    const [r] = decoded(two);
    expect((r!.rrpair as RRPair & { v: unknown }).v).toBe('str');
    expect(r!.rrpair).toEqual(reference(two)[0]!.rrpair);
    expect(rrpairJsonOf(r!)).toBeUndefined();
  });

  it('is dropped when the record is given another RRPair object', () => {
    const [r] = decoded(encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))])));
    expect(rrpairJsonOf(r!)?.toString()).toBe(JSON.stringify(r!.rrpair));
    r!.rrpair = { ...r!.rrpair, service: 'other' };
    expect(rrpairJsonOf(r!)).toBeUndefined();
    expect(rrpairJsonOf({ ...r! })).toBeUndefined();
  });
});

describe('file exporter behind the otlp receiver: a record a processor changed is written with its change', () => {
  let svc: Running;
  let dir: string;
  const ports = { plain: 0, changed: 0 };
  const recs = SAMPLES.slice(0, 40).map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: { service: 'svc', namespace: 'ns' } }));
  const body = Buffer.from(encodeLogsRequest(recordsToOtlpJson(recs)));
  const proto = { 'content-type': 'application/x-protobuf' };

  beforeAll(async () => {
    dir = tmp('rrpipe-rrpair-json-');
    ports.plain = await freePort();
    ports.changed = await freePort();
    svc = await startService(`
receivers:
  otlp/plain: { protocols: { http: { endpoint: "127.0.0.1:${ports.plain}" } } }
  otlp/changed: { protocols: { http: { endpoint: "127.0.0.1:${ports.changed}" } } }
processors:
  transform: { log_statements: [ 'set(body["service"], "changed")' ] }
  batch: {}
exporters:
  file/plain: { path: "${dir}/plain/rr.jsonl", layout: rrpipe }
  file/changed: { path: "${dir}/changed/rr.jsonl", layout: rrpipe }
service:
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs/plain: { receivers: [otlp/plain], processors: [batch], exporters: [file/plain] }
    logs/changed: { receivers: [otlp/changed], processors: [batch, transform], exporters: [file/changed] }
`);
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const lines = (sub: string) =>
    readdirSync(join(dir, sub))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(dir, sub, f), 'utf8').split('\n').filter(Boolean));

  it('writes unchanged records exactly as JSON.stringify would, and changed ones with their change', async () => {
    expect((await post(ports.plain, '/v1/logs', body, proto)).status).toBe(200);
    expect((await post(ports.changed, '/v1/logs', body, proto)).status).toBe(200);
    await svc.service.shutdown();
    const want = recs.map((r) => expectedRRPair(r.rrpair, { cluster: 'c1', service: 'svc', namespace: 'ns' }));
    expect(lines('plain')).toEqual(want.map((rr) => JSON.stringify(rr)));
    expect(lines('changed')).toEqual(want.map((rr) => JSON.stringify({ ...rr, service: 'changed' })));
  });
});
