import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
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

describe('OTLP protobuf read in one pass (otlp-wire.ts)', () => {
  it('gives exactly what protobufjs decode + toObject gives: every field, and the samples', () => {
    const bytes = encodeLogsRequest(full);
    expect(decodeLogsRequest(bytes)).toEqual(decodeLogsRequestReference(bytes));
    const recs = SAMPLES.map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: { service: 's' } }));
    const samples = encodeLogsRequest(recordsToOtlpJson(recs));
    expect(decodeLogsRequest(samples)).toEqual(decodeLogsRequestReference(samples));
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
      expect(mine).toEqual(decodeLogsRequestReference(b));
      agreed++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(agreed).toBeGreaterThan(0);
  });
});
