import { describe, expect, it } from 'vitest';
import { factory as rrpairmetrics } from '../../src/connectors/rrpairmetrics/index.js';
import { endpointOf, pathTemplate, sqlShape, statusClass } from '../../src/connectors/rrpairmetrics/endpoint.js';
import { factory as d2c } from '../../src/processors/deltatocumulative/index.js';
import type { HistogramPoint, MetricPoint, SumPoint } from '../../src/core/metric.js';
import { newRecord } from '../../src/core/record.js';
import { RetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import type { Factory } from '../../src/core/component.js';
import { allSamples } from '../support/index.js';

function configOf<C>(f: Factory<C>, raw: unknown): C {
  const v = structuredClone(raw);
  const problems = validateAgainst(f.schema, v);
  if (problems.length) throw new Error(problems.map((p) => p.message).join('; '));
  return v as C;
}

class Sink {
  points: MetricPoint[] = [];
  refuse = 0;
  async consume(b: MetricPoint[]) {
    if (this.refuse > 0) {
      this.refuse--;
      throw new RetryableError('told to refuse');
    }
    this.points.push(...b);
  }
}

async function make<C>(f: Factory<C>, raw: unknown, kind: 'connector' | 'processor') {
  const t = new Telemetry({ processMetrics: false });
  const sink = new Sink();
  const c = await (f as { create(s: unknown, n: unknown): unknown }).create({ id: f.type, kind, config: configOf(f, raw), logger: silentLogger(), metrics: t.forComponent(f.type, kind), configDir: '.' }, sink) as { consume(b: unknown[], ctx: object): Promise<void>; start(h: unknown): Promise<void> };
  await c.start({});
  return { c, sink, t };
}

describe('endpoint templates', () => {
  it('turns ids in paths into {id} and keeps the route', () => {
    expect(pathTemplate('/users/123/orders/9')).toBe('/users/{id}/orders/{id}');
    expect(pathTemplate('/v1/files/file-Xw9YVsvvUXPtE1Labtpybv?limit=3')).toBe('/v1/files/{id}');
    expect(pathTemplate('/v1/fine_tuning/jobs/ftjob-SteNfmMtPCEesC76DUbNvhIP/events')).toBe('/v1/fine_tuning/jobs/{id}/events');
    expect(pathTemplate('/items/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b')).toBe('/items/{id}');
    expect(pathTemplate('/v1/chat/completions')).toBe('/v1/chat/completions');
    expect(pathTemplate('/users/alice@example.com')).toBe('/users/{id}');
  });
  it('turns SQL into its statement shape', () => {
    expect(sqlShape("SELECT * FROM users WHERE id = 42 AND name = 'O''Brien'")).toBe('SELECT * FROM users WHERE id = ? AND name = ?');
    expect(sqlShape('select a from t where x in (1, 2, 3) -- note\n limit 10')).toBe('select a from t where x in (?) limit ?');
    expect(sqlShape('INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)')).toBe('INSERT INTO t (a, b) VALUES (?)');
    expect(endpointOf('postgres', 'UPDATE t SET v = 1.5 WHERE id = 7', 'UPDATE')).toBe('UPDATE t SET v = ? WHERE id = ?');
    expect(endpointOf('grpc', '/pkg.Svc/Method', 'POST')).toBe('/pkg.Svc/Method');
  });
  it('maps HTTP statuses to classes and keeps others', () => {
    expect(['200', '404', '503', 'UNAVAILABLE'].map(statusClass)).toEqual(['2xx', '4xx', '5xx', 'UNAVAILABLE']);
  });
});

describe('rrpairmetrics', () => {
  const rr = (i: number, path: string, status = '200', duration = 10) => newRecord({ ...allSamples()[0]!, uuid: `u${i}`, service: 'svc', namespace: 'ns', cluster: 'c', l7protocol: 'http', location: path, status, duration } as never);

  it('folds series beyond aggregation_cardinality_limit into one overflow series, counting every record', async () => {
    const { c, sink } = await make(rrpairmetrics, { aggregation_cardinality_limit: 3, aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA' }, 'connector');
    await c.consume([rr(1, '/a'), rr(2, '/b'), rr(3, '/c'), rr(4, '/d'), rr(5, '/a'), rr(6, '/e', '500')], {});
    const calls = sink.points.filter((p) => p.name === 'rrpair.calls') as SumPoint[];
    expect(calls).toHaveLength(3);
    const byEndpoint = new Map(calls.map((p) => [p.attributes.endpoint ?? `overflow=${p.attributes['otel.metric.overflow']}`, p.value]));
    expect(byEndpoint).toEqual(new Map([['/a', 2], ['/b', 1], ['overflow=true', 3]]));
    const errors = sink.points.filter((p) => p.name === 'rrpair.errors') as SumPoint[];
    expect(errors.reduce((a, p) => a + p.value, 0)).toBe(1);
  });

  it('buckets durations with the configured bounds and keeps cumulative totals across batches, committed only once accepted', async () => {
    const { c, sink } = await make(rrpairmetrics, { histogram: { explicit: { buckets: [10, 100] } } }, 'connector');
    await c.consume([rr(1, '/a', '200', 5), rr(2, '/a', '200', 10), rr(3, '/a', '200', 50)], {});
    sink.refuse = 1;
    await expect(c.consume([rr(4, '/a', '200', 500)], {})).rejects.toThrow(/refuse/);
    await c.consume([rr(4, '/a', '200', 500)], {});
    const hs = sink.points.filter((p) => p.name === 'rrpair.duration') as HistogramPoint[];
    expect(hs.map((h) => [h.count, h.counts, h.sum, h.temporality])).toEqual([[3, [2, 1, 0], 65, 'cumulative'], [4, [2, 1, 1], 565, 'cumulative']]);
    expect(hs[1]!.max).toBe(500);
  });
});

describe('deltatocumulative', () => {
  const pt = (t: bigint, v: number, attrs = {}): SumPoint => ({ type: 'sum', temporality: 'delta', monotonic: true, name: 'm', description: '', unit: '', resource: {}, scope: { name: '', version: '' }, attributes: attrs, startNs: t - 1n, timeNs: t, value: v });

  it('accumulates per stream, drops out-of-order points, and does not count a refused batch twice', async () => {
    const { c, sink, t } = await make(d2c, {}, 'processor');
    await c.consume([pt(10n, 1), pt(11n, 2), pt(10n, 5, { k: 'b' })], {});
    await c.consume([pt(11n, 100)], {}); // not newer than the last point of its stream
    sink.refuse = 1;
    await expect(c.consume([pt(12n, 4)], {})).rejects.toThrow();
    await c.consume([pt(12n, 4)], {});
    expect(sink.points.map((p) => [(p as SumPoint).value, (p as SumPoint).temporality, p.startNs])).toEqual([[1, 'cumulative', 9n], [3, 'cumulative', 9n], [5, 'cumulative', 9n], [7, 'cumulative', 9n]]);
    expect(await t.total('dropped', { reason: 'out_of_order' })).toBe(1);
  });

  it('tracks at most max_streams and forgets streams after max_stale', async () => {
    const { c, sink, t } = await make(d2c, { max_streams: 1, max_stale: '1s' }, 'processor');
    await c.consume([pt(10n, 1, { k: 'a' }), pt(10n, 1, { k: 'b' })], {});
    expect(sink.points).toHaveLength(1);
    expect(await t.total('dropped', { reason: 'stream_limit' })).toBe(1);
    (c as unknown as { expire(now: number): void }).expire(Date.now() + 5_000);
    await c.consume([pt(20n, 7, { k: 'b' })], {});
    expect((sink.points[1] as SumPoint).value).toBe(7);
  });
});
