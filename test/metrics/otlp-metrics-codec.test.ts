// The official generated protobuf code of the OTel JS SDK (the messages its OTLP exporters encode with).
import otel from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../src/core/metric.js';
import { metricsRequestToPoints } from '../../src/rrpair/otlp-metrics.js';
import { decodeMetricsRequest, encodeMetricPoints } from '../../src/rrpair/otlp-metrics-proto.js';

const Request = (otel as unknown as { opentelemetry: { proto: { collector: { metrics: { v1: { ExportMetricsServiceRequest: {
  decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): Record<string, unknown>; encode(m: unknown): { finish(): Uint8Array }; fromObject(o: object): unknown;
} } } } } } }).opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

const base = { description: 'd', resource: { 'service.name': 'svc', 'host.cpus': 4 }, scope: { name: 'scope', version: '1' }, startNs: 1_700_000_000_000_000_000n, timeNs: 1_700_000_001_000_000_000n };
const POINTS: MetricPoint[] = [
  { ...base, name: 'calls', unit: '{call}', type: 'sum', temporality: 'delta', monotonic: true, value: 3, attributes: { route: '/a', ok: true } },
  { ...base, name: 'inflight', unit: '', type: 'sum', temporality: 'cumulative', monotonic: false, value: -2.5, attributes: {} },
  { ...base, name: 'temp', unit: 'Cel', type: 'gauge', value: 21.5, attributes: { ratio: 0.5 } },
  { ...base, name: 'latency', unit: 'ms', type: 'histogram', temporality: 'cumulative', count: 5, sum: 5615, bounds: [10, 100, 1000], counts: [1, 2, 1, 1], min: 5, max: 5000, attributes: { route: '/a' } },
];

describe('OTLP metrics codec against the OTel JS SDK\'s own protobuf messages', () => {
  it('what rrpipe encodes, the official ExportMetricsServiceRequest reads with every field in place', () => {
    const o = Request.toObject(Request.decode(encodeMetricPoints(POINTS)), { longs: String, enums: Number }) as {
      resourceMetrics: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeMetrics: { scope: { name: string }; metrics: Record<string, { dataPoints: Record<string, unknown>[]; aggregationTemporality?: number; isMonotonic?: boolean }>[] }[] }[];
    };
    expect(o.resourceMetrics).toHaveLength(1);
    const rm = o.resourceMetrics[0]!;
    expect(rm.resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'host.cpus', value: { intValue: '4' } }]);
    const metrics = rm.scopeMetrics[0]!.metrics as unknown as ({ name: string } & Record<string, { dataPoints: Record<string, unknown>[]; aggregationTemporality?: number; isMonotonic?: boolean }>)[];
    expect(metrics.map((m) => m.name)).toEqual(['calls', 'inflight', 'temp', 'latency']);
    expect(metrics[0]!.sum).toMatchObject({ aggregationTemporality: 1, isMonotonic: true });
    expect(metrics[0]!.sum!.dataPoints[0]).toMatchObject({ asDouble: 3, startTimeUnixNano: '1700000000000000000', timeUnixNano: '1700000001000000000' });
    expect(metrics[1]!.sum).toMatchObject({ aggregationTemporality: 2 });
    expect(metrics[1]!.sum!.isMonotonic ?? false).toBe(false);
    expect(metrics[2]!.gauge!.dataPoints[0]).toMatchObject({ asDouble: 21.5, attributes: [{ key: 'ratio', value: { doubleValue: 0.5 } }] });
    expect(metrics[3]!.histogram).toMatchObject({ aggregationTemporality: 2 });
    expect(metrics[3]!.histogram!.dataPoints[0]).toMatchObject({ count: '5', sum: 5615, bucketCounts: ['1', '2', '1', '1'], explicitBounds: [10, 100, 1000], min: 5, max: 5000 });
  });

  it('round-trips every point type through protobuf unchanged', () => {
    expect(metricsRequestToPoints(decodeMetricsRequest(encodeMetricPoints(POINTS)))).toEqual({ points: POINTS, rejected: 0, reasons: [] });
  });

  it('reads an exponential histogram the official messages encode into exact explicit buckets, and refuses its summary', () => {
    const bytes = Request.encode(Request.fromObject({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [
        { name: 'exp', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: '5', count: '6', sum: 30, scale: 1, zeroCount: '1', positive: { offset: 2, bucketCounts: ['2', '1'] }, negative: { offset: 0, bucketCounts: ['2'] } }] } },
        { name: 'sum', summary: { dataPoints: [{ count: '1', sum: 1 }] } },
      ] }] }],
    })).finish();
    const got = metricsRequestToPoints(decodeMetricsRequest(bytes));
    expect(got.rejected).toBe(1);
    expect(got.reasons).toEqual(['sum: summary metrics are not supported']);
    // scale 1: base √2; negative index 0 covers [-√2, -1), zero bucket [0, 0], positive index 2 (2, 2√2], index 3 (2√2, 4].
    expect(got.points).toEqual([expect.objectContaining({ type: 'histogram', temporality: 'delta', count: 6, sum: 30, bounds: [-1, 0, 2 ** 1.5, 4], counts: [2, 1, 2, 1, 0] })]);
  });
});
