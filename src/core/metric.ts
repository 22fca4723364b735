import { recordSize, type Attrs, type RRRecord } from './record.js';

/** The kinds of data a pipeline carries (OTel's pipeline types rrpipe supports). */
export type Signal = 'logs' | 'metrics';
export const SIGNALS: readonly Signal[] = ['logs', 'metrics'];

/** OTLP AggregationTemporality: delta points carry the change since the previous point, cumulative ones the total since `startNs`. */
export type Temporality = 'delta' | 'cumulative';

/** The instrumentation scope a metric came from (OTLP InstrumentationScope). */
export interface Scope {
  name: string;
  version: string;
}

/**
 * One OTLP data point together with its metric's descriptor, resource and scope: the unit a
 * metrics pipeline moves, queues, retries and dead-letters (as a log pipeline moves one RRPair).
 * Exporters regroup points into OTLP ResourceMetrics or Prometheus series as their wire needs.
 */
interface PointBase {
  name: string;
  description: string;
  unit: string;
  resource: Attrs;
  scope: Scope;
  attributes: Attrs;
  /** Start of the interval (delta) or of the series (cumulative), ns since the epoch; 0n when unknown. */
  startNs: bigint;
  /** When the point was observed, ns since the epoch. */
  timeNs: bigint;
}

export interface SumPoint extends PointBase {
  type: 'sum';
  temporality: Temporality;
  monotonic: boolean;
  value: number;
}

export interface GaugePoint extends PointBase {
  type: 'gauge';
  value: number;
}

/** An explicit-bucket histogram point: `counts` has one more entry than `bounds` (the +Inf bucket). */
export interface HistogramPoint extends PointBase {
  type: 'histogram';
  temporality: Temporality;
  count: number;
  sum: number;
  bounds: number[];
  counts: number[];
  min?: number;
  max?: number;
}

export type MetricPoint = SumPoint | GaugePoint | HistogramPoint;
export type MetricBatch = MetricPoint[];

export function isMetricPoint(x: unknown): x is MetricPoint {
  return typeof x === 'object' && x !== null && 'type' in x && 'timeNs' in x && !('rrpair' in x);
}

function attrsKey(a: Attrs): string {
  const keys = Object.keys(a).sort();
  let s = '';
  for (const k of keys) s += `${k}\u0001${typeof a[k]}\u0001${String(a[k])}\u0002`;
  return s;
}

/**
 * The identity of a stream as OTel's data model defines it: resource, scope, metric name, type,
 * unit, temporality and monotonicity, and the point's attributes.
 */
export function streamKey(p: MetricPoint): string {
  const kind = p.type === 'gauge' ? 'gauge' : p.type === 'sum' ? `sum:${p.temporality}:${p.monotonic}` : `histogram:${p.temporality}`;
  return `${attrsKey(p.resource)}\u0003${p.scope.name}\u0001${p.scope.version}\u0003${p.name}\u0001${p.unit}\u0001${kind}\u0003${attrsKey(p.attributes)}`;
}

/** Approximate bytes of a point, for byte-sized queues and batches. */
export function pointSize(p: MetricPoint): number {
  let n = 64 + p.name.length + p.description.length + p.unit.length;
  for (const a of [p.resource, p.attributes]) for (const k in a) n += k.length + String(a[k]).length + 8;
  if (p.type === 'histogram') n += 16 * (p.bounds.length + p.counts.length);
  return n;
}

/** A point written as JSON (bigint timestamps as decimal strings), for dead letters and the debug exporter. */
export function pointJson(p: MetricPoint): string {
  return JSON.stringify(p, pointJsonValue);
}

/**
 * A point back from pointJson (a persistent queue's payload): timestamps as bigints again.
 * Throws when the object is not a point of a known type.
 */
export function pointFromJson(o: Record<string, unknown>): MetricPoint {
  if (o.type !== 'sum' && o.type !== 'gauge' && o.type !== 'histogram') throw new Error(`not a metric point (type ${String(o.type)})`);
  const num = (v: unknown) => (typeof v === 'number' ? v : v === null ? NaN : Number(v));
  const p = { ...o, startNs: BigInt(String(o.startNs ?? 0)), timeNs: BigInt(String(o.timeNs ?? 0)) } as MetricPoint;
  if (p.type === 'histogram') {
    p.sum = num(p.sum);
    if (p.min !== undefined) p.min = num(p.min);
    if (p.max !== undefined) p.max = num(p.max);
  } else p.value = num(p.value);
  return p;
}

/** A point as JSON with non-finite values kept ("NaN", "Infinity" as strings, which pointFromJson reads back). */
export function pointJsonValue(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

/** Approximate bytes of whatever a pipeline carries (an RRPair record or a metric point). */
export function itemSize(item: RRRecord | MetricPoint): number {
  return isMetricPoint(item) ? pointSize(item) : recordSize(item);
}
