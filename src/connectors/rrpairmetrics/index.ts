import type { AnyConsumer, Component, ConnectorFactory, Consumer, CreateSettings } from '../../core/component.js';
import type { HistogramPoint, MetricPoint, SumPoint } from '../../core/metric.js';
import type { Attrs, Context, RecordBatch } from '../../core/record.js';
import { bool, int, list, num, obj, oneOf, str, strings, type Config } from '../../config/fragments.js';
import { indexDocOf } from '../../rrpair/derive.js';
import type { IndexDoc } from '../../rrpair/index-doc.js';
import { connectorScope, DeltaClock } from '../internal/logs-to-metrics.js';
import { endpointOf, statusClass } from './endpoint.js';

/** spanmetrics' default duration buckets, in milliseconds. */
const DEFAULT_BUCKETS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000];
export const DIMENSIONS = ['cluster', 'namespace', 'service', 'direction', 'protocol', 'endpoint', 'status_class'] as const;

const schema = obj({
  namespace: str('rrpair', 'Prefix of the metric names (rrpair.calls, rrpair.errors, rrpair.duration, rrpair.request.size, rrpair.response.size).'),
  histogram: obj({
    explicit: obj({ buckets: list(num(), DEFAULT_BUCKETS, 'Upper bounds of the duration buckets, in milliseconds.') }, { default: {} }),
  }, { default: {}, description: 'The duration histogram (spanmetrics keys).' }),
  dimensions: strings([...DIMENSIONS], `Which of ${DIMENSIONS.join(', ')} split the series.`),
  error_status_classes: strings(['5xx'], 'Status classes counted as errors; non-HTTP statuses listed here count too (e.g. ERROR, UNAVAILABLE).'),
  aggregation_temporality: oneOf(['AGGREGATION_TEMPORALITY_CUMULATIVE', 'AGGREGATION_TEMPORALITY_DELTA'], 'AGGREGATION_TEMPORALITY_CUMULATIVE', 'Cumulative (Prometheus-ready, state kept per series) or delta (per batch, no state).'),
  aggregation_cardinality_limit: int(2000, 'Most series per metric; records beyond it are folded into one series with otel.metric.overflow="true" (0: no limit).', { minimum: 0 }),
  normalize_endpoints: bool(true, 'Turn paths into templates (/users/{id}) and SQL into its statement shape; off keeps the location as it is (unbounded).'),
});

export type RRPairMetricsConfig = Config<typeof schema>;

interface Acc {
  attrs: Attrs;
  calls: number;
  errors: number;
  durCount: number;
  durSum: number;
  durMin: number;
  durMax: number;
  counts: number[];
  req: number;
  res: number;
}

const OVERFLOW: Attrs = { 'otel.metric.overflow': 'true' };

function emptyAcc(attrs: Attrs, buckets: number): Acc {
  return { attrs, calls: 0, errors: 0, durCount: 0, durSum: 0, durMin: Infinity, durMax: -Infinity, counts: new Array<number>(buckets + 1).fill(0), req: 0, res: 0 };
}

function bucketIndex(bounds: number[], v: number): number {
  // OTLP explicit buckets: bucket i holds (bounds[i-1], bounds[i]].
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * RED metrics from RRPairs, as the spanmetrics connector derives them from spans: calls, errors,
 * a duration histogram and request/response bytes per cluster, namespace, service, direction,
 * protocol, endpoint template and status class. The series count per metric is capped; records
 * of series beyond the cap are folded into one overflow series. With cumulative temporality the
 * running totals are committed only after the metrics pipeline accepted them, so a batch retried
 * upstream is not counted twice.
 */
class RRPairMetrics implements Component, Consumer {
  private readonly state = new Map<string, Acc>();
  /** Keys of every series emitted so far (without the overflow one), for the cardinality limit. */
  private readonly series = new Set<string>();
  private readonly clock = new DeltaClock();
  private readonly startNs = BigInt(Date.now()) * 1_000_000n;
  private readonly bounds: number[];
  private readonly cumulative: boolean;
  private readonly errorClasses: Set<string>;
  private readonly dims: Set<string>;
  private chain: Promise<void> = Promise.resolve();
  private readonly overflowed;

  constructor(private readonly s: CreateSettings<RRPairMetricsConfig>, private readonly next: AnyConsumer) {
    const c = s.config;
    this.bounds = [...c.histogram.explicit.buckets].sort((a, b) => a - b);
    this.cumulative = c.aggregation_temporality === 'AGGREGATION_TEMPORALITY_CUMULATIVE';
    this.errorClasses = new Set(c.error_status_classes);
    this.dims = new Set(c.dimensions);
    this.overflowed = s.metrics.counter('rrpairmetrics_overflow_records', 'Records folded into the overflow series (cardinality limit reached).');
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {
    await this.chain;
  }

  /** The dimensions of one record. */
  attributesOf(d: IndexDoc): Attrs {
    const protocol = (d.l7protocol || '').toLowerCase();
    const all: Attrs = {
      cluster: d.cluster, namespace: d.namespace, service: d.service, direction: d.direction, protocol,
      endpoint: this.s.config.normalize_endpoints ? endpointOf(protocol, d.location ?? '', d.command ?? '') : (d.location ?? ''),
      status_class: statusClass(String(d.status ?? '')),
    };
    const out: Attrs = {};
    for (const k of DIMENSIONS) if (this.dims.has(k)) out[k] = all[k] ?? '';
    return out;
  }

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const run = this.chain.then(() => this.handle(batch, ctx));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async handle(batch: RecordBatch, ctx: Context): Promise<void> {
    if (batch.length === 0) return;
    const limit = this.s.config.aggregation_cardinality_limit;
    const touched = new Map<string, Acc>();
    // Resource: the RRPairs' own; records of different clusters keep cluster as a dimension.
    for (const r of batch) {
      const d = indexDocOf(r);
      const attrs = this.attributesOf(d);
      let key = Object.values(attrs).join('\u0001');
      let acc = touched.get(key);
      if (!acc) {
        if (!this.series.has(key)) {
          if (limit > 0 && this.series.size >= limit - 1) {
            key = 'overflow';
          } else {
            this.series.add(key);
          }
        }
        acc = touched.get(key);
        if (!acc) {
          const prev = this.cumulative ? this.state.get(key) : undefined;
          acc = prev ? { ...prev, counts: [...prev.counts] } : emptyAcc(key === 'overflow' ? OVERFLOW : attrs, this.bounds.length);
          touched.set(key, acc);
        }
      }
      if (key === 'overflow') this.overflowed.inc();
      acc.calls++;
      if (this.errorClasses.has(String(acc.attrs.status_class ?? statusClass(String(d.status ?? ''))))) acc.errors++;
      const dur = Number(d.duration);
      if (Number.isFinite(dur) && dur >= 0) {
        acc.durCount++;
        acc.durSum += dur;
        acc.durMin = Math.min(acc.durMin, dur);
        acc.durMax = Math.max(acc.durMax, dur);
        acc.counts[bucketIndex(this.bounds, dur)]!++;
      }
      acc.req += Number(d.req_size) || 0;
      acc.res += Number(d.res_size) || 0;
    }
    const { startNs: deltaStart, timeNs } = this.clock.next();
    const startNs = this.cumulative ? this.startNs : deltaStart;
    const temporality = this.cumulative ? 'cumulative' as const : 'delta' as const;
    const ns = this.s.config.namespace ? `${this.s.config.namespace}.` : '';
    const scope = connectorScope('rrpairmetrics');
    const common = { resource: {}, scope, startNs, timeNs };
    const points: MetricPoint[] = [];
    for (const a of touched.values()) {
      const sum = (name: string, description: string, unit: string, value: number): SumPoint => ({ ...common, type: 'sum', temporality, monotonic: true, name: `${ns}${name}`, description, unit, attributes: a.attrs, value });
      points.push(sum('calls', 'RRPairs observed.', '{call}', a.calls));
      points.push(sum('errors', 'RRPairs whose status class counts as an error.', '{call}', a.errors));
      const h: HistogramPoint = {
        ...common, type: 'histogram', temporality, name: `${ns}duration`, description: 'RRPair duration.', unit: 'ms', attributes: a.attrs,
        count: a.durCount, sum: a.durSum, bounds: this.bounds, counts: a.counts,
        ...(a.durCount ? { min: a.durMin, max: a.durMax } : {}),
      };
      points.push(h);
      points.push(sum('request.size', 'Request bytes.', 'By', a.req));
      points.push(sum('response.size', 'Response bytes.', 'By', a.res));
    }
    await this.next.consume(points, ctx);
    if (this.cumulative) for (const [k, a] of touched) this.state.set(k, a);
  }
}

export const factory: ConnectorFactory<RRPairMetricsConfig> = {
  kind: 'connector',
  type: 'rrpairmetrics',
  stability: 'alpha',
  description: 'RED metrics from RRPairs (calls, errors, duration histogram, request/response bytes) per service and endpoint template, cardinality-capped.',
  connects: [['logs', 'metrics']],
  schema,
  validate: (c) => {
    const out = [];
    const b = c.histogram.explicit.buckets;
    if (b.length === 0) out.push({ path: ['histogram', 'explicit', 'buckets'], message: 'give at least one bucket bound' });
    if (new Set(b).size !== b.length) out.push({ path: ['histogram', 'explicit', 'buckets'], message: 'bucket bounds must be distinct' });
    for (const d of c.dimensions) if (!(DIMENSIONS as readonly string[]).includes(d)) out.push({ path: ['dimensions'], message: `unknown dimension "${d}" (one of ${DIMENSIONS.join(', ')})` });
    return out;
  },
  create: (s, next) => new RRPairMetrics(s, next),
};
