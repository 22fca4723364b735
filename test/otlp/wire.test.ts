import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { logsRequestToRecords, OtlpMappingError, recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { decodeLogsRequest, decodeLogsRequestReference, encodeLogsRequest, OtlpDecodeError } from '../../src/rrpair/otlp-proto.js';
import { SAMPLES } from './support.js';

/** A request with every field of the logs schema set, values at their edges. */
const full = {
  resourceLogs: [
    {
      resource: {
        attributes: [{ key: 'k8s.cluster.name', value: { stringValue: 'c1' } }],
        droppedAttributesCount: 2,
        entityRefs: [{ schemaUrl: 's', type: 't', idKeys: ['a', 'b'], descriptionKeys: ['d'] }],
      },
      schemaUrl: 'https://opentelemetry.io/schemas/1.0.0',
      scopeLogs: [
        {
          scope: { name: 'rrpipe', version: '1', attributes: [{ key: 'x', value: { boolValue: true } }], droppedAttributesCount: 1 },
          schemaUrl: 'scope-schema',
          logRecords: [
            {
              timeUnixNano: '18446744073709551615',
              observedTimeUnixNano: '1742256000123456789',
              severityNumber: 9,
              severityText: 'INFO',
              body: {
                kvlistValue: {
                  values: [
                    { key: 's', value: { stringValue: 'héllo ✓' } },
                    { key: 'b', value: { boolValue: false } },
                    { key: 'i', value: { intValue: '-9223372036854775808' } },
                    { key: 'j', value: { intValue: '9223372036854775807' } },
                    { key: 'd', value: { doubleValue: -1.5e-300 } },
                    { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '7' }, { arrayValue: {} }, {}] } } },
                    { key: 'y', value: { bytesValue: Buffer.from([0, 1, 2, 255]).toString('base64') } },
                    { key: 'e', value: {} },
                  ],
                },
              },
              attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }],
              droppedAttributesCount: 3,
              flags: 4294967295,
              traceId: Buffer.alloc(16, 0xab).toString('base64'),
              spanId: Buffer.alloc(8, 0xcd).toString('base64'),
              eventName: 'rrpair',
            },
            {},
          ],
        },
      ],
    },
  ],
};

/** What the receiver makes of a request: its records, or the mapping error. */
function mapped(doc: unknown, keep = true) {
  try {
    const out = logsRequestToRecords(doc, { nonRRPair: keep ? 'keep' : 'drop' });
    return { ...out, records: out.records.map((r) => ({ rrpair: r.rrpair, attributes: r.attributes, resource: r.resource })) };
  } catch (err) {
    if (err instanceof OtlpMappingError) return { error: err.message };
    throw err;
  }
}

describe('OTLP protobuf read in one pass (otlp-wire.ts)', () => {
  it('maps to exactly the records protobufjs decode + toObject maps to: every field, and the samples', () => {
    const bytes = encodeLogsRequest(full);
    expect(mapped(decodeLogsRequest(bytes))).toEqual(mapped(decodeLogsRequestReference(bytes)));
    const recs = SAMPLES.map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: { service: 's' } }));
    const samples = encodeLogsRequest(recordsToOtlpJson(recs));
    const got = mapped(decodeLogsRequest(samples));
    expect(got).toEqual(mapped(decodeLogsRequestReference(samples)));
    expect((got as { records: unknown[] }).records).toHaveLength(SAMPLES.length);
    // the fields around the values are the reference's, byte for byte
    const mine = decodeLogsRequest(bytes) as { resourceLogs: { resource: unknown; schemaUrl: unknown; scopeLogs: { scope: { name: string }; logRecords: Record<string, unknown>[] }[] }[] };
    const ref = decodeLogsRequestReference(bytes) as typeof mine;
    expect(mine.resourceLogs[0]!.schemaUrl).toBe(ref.resourceLogs[0]!.schemaUrl);
    const { body: _b, attributes: _a, ...restMine } = mine.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    const { body: _rb, attributes: _ra, ...restRef } = ref.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    expect(restMine).toEqual(restRef);
    const { attributes: _sa, ...scopeMine } = mine.resourceLogs[0]!.scopeLogs[0]!.scope as Record<string, unknown>;
    const { attributes: _sr, ...scopeRef } = ref.resourceLogs[0]!.scopeLogs[0]!.scope as Record<string, unknown>;
    expect(scopeMine).toEqual(scopeRef);
  });

  it('a value nested deeper than the mapping allows is refused with the mapping\'s words, its LogRecord alone (arrays 66 deep pass the message-depth check)', () => {
    // built by hand: protobufjs's encoder refuses to nest this deep
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 127) (out.push((n & 127) | 128), (n >>>= 7));
      out.push(n);
      return out;
    };
    const field = (no: number, body: Buffer) => Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(body.length)]), body]);
    let any = field(1, Buffer.from('x'));
    for (let i = 0; i < 66; i++) any = field(5, field(1, any));
    const kv = (key: string, value: Buffer) => field(1, Buffer.concat([field(1, Buffer.from(key)), field(2, value)]));
    const body = field(6, Buffer.concat([kv('msgType', field(1, Buffer.from('rrpair'))), kv('deep', any)]));
    const good = field(5, field(6, Buffer.concat([kv('msgType', field(1, Buffer.from('rrpair'))), kv('ts', field(1, Buffer.from('2025-01-01T00:00:00Z')))])));
    const bytes = field(1, field(2, Buffer.concat([field(2, good), field(2, field(5, body)), field(2, good)])));
    const got = mapped(decodeLogsRequest(bytes));
    expect(got).toMatchObject({ invalid: 1, invalidReason: 'value nested deeper than 64 levels', records: [{}, {}] });
    // the same value as OTLP/JSON is refused in the same words
    let json: unknown = { stringValue: 'x' };
    for (let i = 0; i < 66; i++) json = { arrayValue: { values: [json] } };
    const doc = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { kvlistValue: { values: [{ key: 'msgType', value: { stringValue: 'rrpair' } }, { key: 'deep', value: json }] } } }] }] }] };
    expect(mapped(doc)).toMatchObject({ invalid: 1, invalidReason: 'value nested deeper than 64 levels', records: [] });
  });

  it('on thousands of truncated and corrupted requests: refuses with OtlpDecodeError or agrees with protobufjs, never anything else', () => {
    const good = Buffer.from(encodeLogsRequest(full));
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    let refused = 0;
    let agreed = 0;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(good.subarray(0, i % 3 === 0 ? rand(good.length) : good.length));
      for (let k = 0; k < 1 + rand(3); k++) if (b.length) b[rand(b.length)] = rand(256);
      let mine: unknown;
      try {
        mine = decodeLogsRequest(b);
      } catch (err) {
        expect(err).toBeInstanceOf(OtlpDecodeError);
        refused++;
        continue;
      }
      const m = mapped(mine);
      // A LogRecord refused alone (a string made invalid UTF-8): protobufjs would have replaced the bytes.
      if ('invalid' in m && m.invalid > 0) {
        refused++;
        continue;
      }
      expect(m).toEqual(mapped(decodeLogsRequestReference(b)));
      agreed++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(agreed).toBeGreaterThan(0);
  });
});
