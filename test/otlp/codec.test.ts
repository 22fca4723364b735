import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { logsRequestToRecords, recordsToOtlpJson, type AnyValue } from '../../src/rrpair/otlp.js';
import {
  decodeLogsRequest, decodeLogsResponse, encodeLogsRequest, encodeLogsResponse, encodeStatusWithRetry,
  OtlpDecodeError, retryDelayOfStatus,
} from '../../src/rrpair/otlp-proto.js';
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

  it('refuses a kvlist nested 10,000 deep without recursing', () => {
    const bytes = deepKvlistRequest(10_000);
    let err: unknown;
    try {
      decodeLogsRequest(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OtlpDecodeError);
    expect((err as OtlpDecodeError).reason).toBe('too_deep');
  });

  it('encodes partial success and RetryInfo', () => {
    expect(encodeLogsResponse().length).toBe(0);
    expect(decodeLogsResponse(encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'x' }))).toEqual({ rejectedLogRecords: 3, errorMessage: 'x' });
    expect(retryDelayOfStatus(encodeStatusWithRetry(8, 'full', 2500))).toBe(2500);
  });
});
