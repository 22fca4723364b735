import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { logsRequestToRecords, recordsToOtlpJson, type AnyValue } from '../../src/rrpair/otlp.js';
import {
  decodeLogsRequest, decodeLogsResponse, encodeLogsRequest, encodeLogsResponse, encodeStatusWithRetry,
  OtlpDecodeError, retryDelayOfStatus,
} from '../../src/rrpair/otlp-proto.js';
import { RejectedLogRecord } from '../../src/rrpair/otlp-wire.js';
import { deepKvlistRequest, expectedRRPair, SAMPLES } from './support.js';

describe('OTLP protobuf codec', () => {
  it('round-trips every sample RRPair through protobuf unchanged', () => {
    const recs = SAMPLES.map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: { service: 's', namespace: 'n' } }));
    const bytes = encodeLogsRequest(recordsToOtlpJson(recs));
    const out = logsRequestToRecords(decodeLogsRequest(bytes));
    expect(out.records.map((r) => r.rrpair)).toEqual(SAMPLES.map((rr) => expectedRRPair(rr, { cluster: 'c1', service: 's', namespace: 'n' })));
    expect(out.records[0]!.resource).toEqual({ cluster: 'c1' });
    expect(out.records[0]!.attributes).toEqual({ service: 's', namespace: 'n' });
  });

  it('decodes int64 as a number, bytes as base64, integral doubles as integers', () => {
    const body: AnyValue = { kvlistValue: { values: [
      { key: 'msgType', value: { stringValue: 'rrpair' } },
      { key: 'ts', value: { stringValue: '2024-01-01T00:00:00Z' } },
      { key: 'big', value: { intValue: '9007199254740991' } },
      { key: 'neg', value: { intValue: '-5' } },
      { key: 'dbl', value: { doubleValue: 200 } },
      { key: 'raw', value: { bytesValue: Buffer.from('hi').toString('base64') } },
      { key: 'nil', value: {} },
    ] } };
    const bytes = encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body }] }] }] });
    const rr = logsRequestToRecords(decodeLogsRequest(bytes)).records[0]!.rrpair;
    expect(rr).toEqual({ msgType: 'rrpair', ts: '2024-01-01T00:00:00Z', big: 9007199254740991, neg: -5, dbl: 200, raw: 'aGk=', nil: null });
  });

  it('refuses truncated and corrupt protobuf with OtlpDecodeError', () => {
    const good = encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))]));
    expect(() => decodeLogsRequest(good.subarray(0, good.length - 7))).toThrow(OtlpDecodeError);
    expect(() => decodeLogsRequest(Buffer.from('this is not protobuf at all, just text'))).toThrow(OtlpDecodeError);
    expect(() => decodeLogsRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(OtlpDecodeError);
  });

  it('refuses a kvlist nested 10,000 deep without recursing: in a resource the request, in a LogRecord that record alone', () => {
    let err: unknown;
    try {
      decodeLogsRequest(deepKvlistRequest(10_000, 'resource'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OtlpDecodeError);
    expect((err as OtlpDecodeError).reason).toBe('too_deep');
    expect((err as OtlpDecodeError).message).toBe('value nested deeper than 64 levels');
    const doc = decodeLogsRequest(deepKvlistRequest(10_000)) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] };
    const lr = doc.resourceLogs[0]!.scopeLogs[0]!.logRecords[0];
    expect(lr).toBeInstanceOf(RejectedLogRecord);
    expect(lr).toMatchObject({ reason: 'too_deep', message: 'value nested deeper than 64 levels' });
  });

  it('encodes partial success and RetryInfo', () => {
    expect(encodeLogsResponse().length).toBe(0);
    expect(decodeLogsResponse(encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'x' }))).toEqual({ rejectedLogRecords: 3, errorMessage: 'x' });
    expect(retryDelayOfStatus(encodeStatusWithRetry(8, 'full', 2500))).toBe(2500);
  });

  it('keeps each record\'s instrumentation scope through decode and re-encode, grouped per resource and scope; records without one go out under rrpipe', () => {
    const rr = (i: number) => ({ ...SAMPLES[i]! });
    const req = {
      resourceLogs: [{
        resource: { attributes: [{ key: 'cluster', value: { stringValue: 'east' } }] },
        scopeLogs: [
          { scope: { name: 'speedscale-forwarder', version: '2.4.1' }, logRecords: [{ body: { stringValue: JSON.stringify(rr(0)) } }, { body: { stringValue: JSON.stringify(rr(1)) } }] },
          { scope: { name: 'nettap' }, logRecords: [{ body: { stringValue: JSON.stringify(rr(2)) } }] },
          { scope: {}, logRecords: [{ body: { stringValue: JSON.stringify(rr(3)) } }] },
        ],
      }],
    };
    const { records } = logsRequestToRecords(decodeLogsRequest(encodeLogsRequest(req)));
    expect(records.map((r) => r.scope)).toEqual([{ name: 'speedscale-forwarder', version: '2.4.1' }, { name: 'speedscale-forwarder', version: '2.4.1' }, { name: 'nettap' }, undefined]);
    const out = decodeLogsRequest(encodeLogsRequest(recordsToOtlpJson([...records, newRecord(rr(4), { resource: { cluster: 'east' } })]))) as {
      resourceLogs: { scopeLogs: { scope?: { name?: string; version?: string }; logRecords: unknown[] }[] }[];
    };
    expect(out.resourceLogs).toHaveLength(1);
    expect(out.resourceLogs[0]!.scopeLogs.map((sl) => [sl.scope?.name, sl.scope?.version || undefined, sl.logRecords.length])).toEqual([
      ['speedscale-forwarder', '2.4.1', 2], ['nettap', undefined, 1], ['rrpipe', undefined, 2],
    ]);
  });
});
