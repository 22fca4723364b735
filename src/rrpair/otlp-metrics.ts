import type { Attrs } from '../core/record.js';
import type { HistogramPoint, MetricPoint, Scope, Temporality } from '../core/metric.js';
import { fromAnyValue, OtlpMappingError, type KeyValue } from './otlp.js';

/**
 * OTLP metrics (the OTLP/JSON shape: lowerCamelCase, int64 as decimal strings, enums as numbers,
 * which protobufjs' toObject yields too) ↔ MetricPoints. Sums (temporality, monotonicity),
 * gauges and explicit-bucket histograms map one to one; an exponential histogram becomes an
 * explicit-bucket histogram with its exact bucket boundaries; summaries have no MetricPoint and
 * are rejected (counted in the partial-success answer, as OTLP asks).
 */

export interface MetricsMapping {
  points: MetricPoint[];
  /** Data points refused (unsupported type, no temporality, inconsistent buckets). */
  rejected: number;
  /** One message per kind of refusal, for the partial-success error_message. */
  reasons: string[];
}

/** Largest bucket count accepted for one exponential histogram point (OTel SDKs default to 160 per sign). */
const MAX_EXP_BUCKETS = 2048;

const TEMPORALITY: Record<string, Temporality | undefined> = {
  1: 'delta', 2: 'cumulative', AGGREGATION_TEMPORALITY_DELTA: 'delta', AGGREGATION_TEMPORALITY_CUMULATIVE: 'cumulative',
};

class PointRefused extends Error {}

function arr(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpMappingError(`${what} must be an array`);
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OtlpMappingError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

/** A uint64/fixed64 timestamp (decimal string or JSON number) → bigint ns. */
function nanos(v: unknown): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new PointRefused('a timestamp is not an unsigned integer');
}

/** An int64/uint64 count or value (string or number) → number. */
function int(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : typeof v === 'number' && Number.isInteger(v) ? v : NaN;
  if (Number.isNaN(n)) throw new PointRefused(`${what} is not an integer`);
  return n;
}

/** A double: JSON may carry "NaN", "Infinity", "-Infinity" as strings (proto3 JSON mapping). */
function dbl(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new PointRefused(`${what} is not a number`);
}

/** OTLP attributes → Attrs: strings, numbers and booleans as they are; arrays and maps as JSON (as OTel's Prometheus translation renders them). */
export function attrsFromKeyValues(kvs: unknown): Attrs {
  const out: Attrs = {};
  for (const kv of arr(kvs, 'attributes') as KeyValue[]) {
    if (!kv || typeof kv.key !== 'string') throw new OtlpMappingError('an attribute has no key');
    const v = fromAnyValue(kv.value);
    if (v === null || v === undefined) continue;
    out[kv.key] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  }
  return out;
}

interface MetricHead {
  name: string;
  description: string;
  unit: string;
  resource: Attrs;
  scope: Scope;
}

function numberValue(dp: Record<string, unknown>): number {
  if (dp.asDouble !== undefined && dp.asDouble !== null) return dbl(dp.asDouble, 'asDouble');
  if (dp.asInt !== undefined && dp.asInt !== null) return int(dp.asInt, 'asInt');
  throw new PointRefused('a number data point has no value');
}

function base(head: MetricHead, dp: Record<string, unknown>) {
  return { ...head, attributes: attrsFromKeyValues(dp.attributes), startNs: nanos(dp.startTimeUnixNano), timeNs: nanos(dp.timeUnixNano) };
}

function optionalDbl(v: unknown, what: string): number | undefined {
  return v === undefined || v === null ? undefined : dbl(v, what);
}

function explicitHistogram(head: MetricHead, temporality: Temporality, dp: Record<string, unknown>): HistogramPoint {
  const bounds = arr(dp.explicitBounds, 'explicitBounds').map((b) => dbl(b, 'a bucket bound'));
  let counts = arr(dp.bucketCounts, 'bucketCounts').map((c) => int(c, 'a bucket count'));
  const count = int(dp.count, 'count');
  if (counts.length === 0 && bounds.length === 0) counts = [count];
  if (counts.length !== bounds.length + 1) throw new PointRefused(`a histogram has ${counts.length} bucket counts for ${bounds.length} bounds (needs bounds + 1)`);
  for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new PointRefused('histogram bounds are not strictly increasing');
  const min = optionalDbl(dp.min, 'min');
  const max = optionalDbl(dp.max, 'max');
  return {
    ...base(head, dp), type: 'histogram', temporality, count, sum: optionalDbl(dp.sum, 'sum') ?? 0, bounds, counts,
    ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}),
  };
}

/**
 * An exponential histogram as explicit buckets: index i of scale s covers (base^i, base^(i+1)]
 * with base = 2^(2^-s) (negative buckets mirror it), the zero bucket [-zero_threshold,
 * zero_threshold]; each becomes one explicit bucket with its own upper bound, so counts stay exact.
 */
function exponentialHistogram(head: MetricHead, temporality: Temporality, dp: Record<string, unknown>): HistogramPoint {
  const scale = int(dp.scale, 'scale');
  if (scale < -10 || scale > 20) throw new PointRefused(`exponential histogram scale ${scale} is outside [-10, 20]`);
  // 2^(i·2^-scale) rather than base^i, so that boundaries at powers of two are exact.
  const bound = (i: number) => 2 ** (i * 2 ** -scale);
  const side = (v: unknown) => {
    const o = obj(v, 'buckets');
    return { offset: int(o.offset, 'offset'), counts: arr(o.bucketCounts, 'bucketCounts').map((c) => int(c, 'a bucket count')) };
  };
  const pos = side(dp.positive);
  const neg = side(dp.negative);
  if (pos.counts.length + neg.counts.length > MAX_EXP_BUCKETS) throw new PointRefused(`an exponential histogram has more than ${MAX_EXP_BUCKETS} buckets`);
  const bounds: number[] = [];
  const counts: number[] = [];
  for (let k = neg.counts.length - 1; k >= 0; k--) {
    bounds.push(-bound(neg.offset + k));
    counts.push(neg.counts[k]!);
  }
  bounds.push(dp.zeroThreshold === undefined ? 0 : dbl(dp.zeroThreshold, 'zeroThreshold'));
  counts.push(int(dp.zeroCount, 'zeroCount'));
  for (let k = 0; k < pos.counts.length; k++) {
    bounds.push(bound(pos.offset + k + 1));
    counts.push(pos.counts[k]!);
  }
  counts.push(0);
  for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new PointRefused('exponential histogram buckets overlap the zero bucket');
  const min = optionalDbl(dp.min, 'min');
  const max = optionalDbl(dp.max, 'max');
  return {
    ...base(head, dp), type: 'histogram', temporality, count: int(dp.count, 'count'), sum: optionalDbl(dp.sum, 'sum') ?? 0, bounds, counts,
    ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}),
  };
}

function temporalityOf(data: Record<string, unknown>): Temporality {
  const t = TEMPORALITY[String(data.aggregationTemporality ?? 0)];
  if (!t) throw new PointRefused('aggregation temporality is unspecified');
  return t;
}

/** Every data point of one Metric; refused points are counted, not fatal to the others. */
function metricPoints(head: MetricHead, m: Record<string, unknown>, out: MetricsMapping, refuse: (n: number, why: string) => void): void {
  const each = (data: Record<string, unknown>, one: (dp: Record<string, unknown>) => MetricPoint) => {
    for (const dp of arr(data.dataPoints, 'dataPoints')) {
      try {
        out.points.push(one(obj(dp, 'a data point')));
      } catch (err) {
        if (!(err instanceof PointRefused)) throw err;
        refuse(1, `${head.name}: ${err.message}`);
      }
    }
  };
  const kinds = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].filter((k) => m[k] !== undefined && m[k] !== null);
  if (kinds.length !== 1) throw new OtlpMappingError(`metric "${head.name}" must have exactly one of gauge, sum, histogram, exponentialHistogram, summary`);
  const kind = kinds[0]!;
  const data = obj(m[kind], kind);
  if (kind === 'summary') {
    refuse(arr(data.dataPoints, 'dataPoints').length, `${head.name}: summary metrics are not supported`);
    return;
  }
  if (kind === 'gauge') return each(data, (dp) => ({ ...base(head, dp), type: 'gauge', value: numberValue(dp) }));
  let temporality: Temporality;
  try {
    temporality = temporalityOf(data);
  } catch (err) {
    refuse(arr(data.dataPoints, 'dataPoints').length, `${head.name}: ${(err as Error).message}`);
    return;
  }
  if (kind === 'sum') {
    const monotonic = data.isMonotonic === true;
    return each(data, (dp) => ({ ...base(head, dp), type: 'sum', temporality, monotonic, value: numberValue(dp) }));
  }
  if (kind === 'histogram') return each(data, (dp) => explicitHistogram(head, temporality, dp));
  return each(data, (dp) => exponentialHistogram(head, temporality, dp));
}

/**
 * An ExportMetricsServiceRequest in the OTLP/JSON shape → MetricPoints. A request whose structure
 * is wrong throws OtlpMappingError (the whole request is refused as bad input); a data point that
 * cannot become a MetricPoint is counted in `rejected` with a reason.
 */
export function metricsRequestToPoints(doc: unknown): MetricsMapping {
  const out: MetricsMapping = { points: [], rejected: 0, reasons: [] };
  const seen = new Set<string>();
  const refuse = (n: number, why: string) => {
    if (n <= 0) return;
    out.rejected += n;
    if (!seen.has(why) && seen.size < 5) {
      seen.add(why);
      out.reasons.push(why);
    }
  };
  for (const rm of arr(obj(doc, 'the request').resourceMetrics, 'resourceMetrics')) {
    const r = obj(rm, 'a ResourceMetrics');
    const resource = attrsFromKeyValues(obj(r.resource, 'resource').attributes);
    for (const sm of arr(r.scopeMetrics, 'scopeMetrics')) {
      const s = obj(sm, 'a ScopeMetrics');
      const sc = obj(s.scope, 'scope');
      const scope: Scope = { name: typeof sc.name === 'string' ? sc.name : '', version: typeof sc.version === 'string' ? sc.version : '' };
      for (const mv of arr(s.metrics, 'metrics')) {
        const m = obj(mv, 'a Metric');
        if (typeof m.name !== 'string' || m.name === '') throw new OtlpMappingError('a metric has no name');
        const head: MetricHead = {
          name: m.name,
          description: typeof m.description === 'string' ? m.description : '',
          unit: typeof m.unit === 'string' ? m.unit : '',
          resource,
          scope,
        };
        metricPoints(head, m, out, refuse);
      }
    }
  }
  return out;
}

function keyValues(a: Attrs): KeyValue[] {
  return Object.entries(a).map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v },
  }));
}

function attrsKey(a: Attrs): string {
  return JSON.stringify(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** The OTLP data of a point's metric (without data points) and the key that groups points into it. */
function metricOf(p: MetricPoint): { key: string; make: () => Record<string, unknown> } {
  const temporality = p.type === 'gauge' ? 0 : p.temporality === 'delta' ? 1 : 2;
  const key = `${p.name}\u0001${p.unit}\u0001${p.description}\u0001${p.type}\u0001${temporality}\u0001${p.type === 'sum' ? p.monotonic : ''}`;
  return {
    key,
    make: () => {
      const data: Record<string, unknown> = { dataPoints: [] };
      if (p.type !== 'gauge') data.aggregationTemporality = temporality;
      if (p.type === 'sum') data.isMonotonic = p.monotonic;
      return { name: p.name, description: p.description, unit: p.unit, [p.type]: data };
    },
  };
}

/** A double as proto3 JSON writes it: NaN and the infinities as strings (JSON has no such numbers). */
function jsonDouble(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function dataPoint(p: MetricPoint): Record<string, unknown> {
  const dp: Record<string, unknown> = { attributes: keyValues(p.attributes), startTimeUnixNano: p.startNs.toString(), timeUnixNano: p.timeNs.toString() };
  if (p.type !== 'histogram') {
    dp.asDouble = jsonDouble(p.value);
    return dp;
  }
  Object.assign(dp, { count: String(p.count), sum: jsonDouble(p.sum), bucketCounts: p.counts.map(String), explicitBounds: p.bounds });
  if (p.min !== undefined) dp.min = jsonDouble(p.min);
  if (p.max !== undefined) dp.max = jsonDouble(p.max);
  return dp;
}

/** MetricPoints → an ExportMetricsServiceRequest in the OTLP/JSON shape, points regrouped by resource, scope and metric. */
export function pointsToMetricsRequest(points: readonly MetricPoint[]): { resourceMetrics: unknown[] } {
  const resources = new Map<string, { resource: Attrs; scopes: Map<string, { scope: Scope; metrics: Map<string, Record<string, unknown>> }> }>();
  for (const p of points) {
    const rk = attrsKey(p.resource);
    let r = resources.get(rk);
    if (!r) resources.set(rk, (r = { resource: p.resource, scopes: new Map() }));
    const sk = `${p.scope.name}\u0001${p.scope.version}`;
    let s = r.scopes.get(sk);
    if (!s) r.scopes.set(sk, (s = { scope: p.scope, metrics: new Map() }));
    const m = metricOf(p);
    let metric = s.metrics.get(m.key);
    if (!metric) s.metrics.set(m.key, (metric = m.make()));
    ((metric[p.type] as { dataPoints: unknown[] }).dataPoints).push(dataPoint(p));
  }
  return {
    resourceMetrics: [...resources.values()].map((r) => ({
      resource: { attributes: keyValues(r.resource) },
      scopeMetrics: [...r.scopes.values()].map((s) => ({ scope: { name: s.scope.name, version: s.scope.version }, metrics: [...s.metrics.values()] })),
    })),
  };
}
