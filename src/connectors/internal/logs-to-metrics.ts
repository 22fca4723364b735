import type { ConfigProblem } from '../../core/component.js';
import type { MetricPoint, Scope } from '../../core/metric.js';
import type { Attrs, AttrValue, RRRecord } from '../../core/record.js';
import { compileCondition, evalCtx, ottlProblem, type Condition } from '../../ottl/index.js';
import { list, obj, raw, str, strings } from '../../config/fragments.js';

/**
 * What the count and sum connectors share (contrib's countconnector and sumconnector): a metric
 * definition per name with OTTL `conditions` (any may match) and `attributes` to group by, each
 * with an optional `default_value`; a record lacking an attribute that has no default is not
 * counted for that metric.
 */
export function attributeList() {
  return list(
    obj({
      key: str(undefined, 'Attribute to group by (looked up on the log record, then the resource).'),
      default_value: raw<string | number | boolean>({ type: ['string', 'number', 'boolean'], description: 'Value used when the record lacks the attribute.' }),
    }, { required: ['key'] }),
    [],
    'Attributes that split the metric into series.',
  );
}

export function conditionList() {
  return strings([], 'OTTL conditions on the log record; the record counts when any matches (none: every record).');
}

export interface AttributeSpec {
  key: string;
  default_value?: string | number | boolean;
}

/** Compiles the conditions of every metric, collecting OTTL errors as config problems. */
export function conditionProblems(defs: Record<string, { conditions: string[] }>, section: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, d] of Object.entries(defs)) {
    d.conditions.forEach((text, i) => {
      try {
        compileCondition(text);
      } catch (err) {
        out.push(ottlProblem(err, text, [section, name, 'conditions', i]));
      }
    });
  }
  return out;
}

/** The conditions as one predicate; an evaluation error counts as no match (and is reported). */
export function anyCondition(texts: string[], onError: (err: unknown) => void): (r: RRRecord) => boolean {
  if (texts.length === 0) return () => true;
  const conds: Condition[] = texts.map((t) => compileCondition(t));
  return (r) => {
    const c = evalCtx(r);
    for (const cond of conds) {
      try {
        if (cond(c)) return true;
      } catch (err) {
        onError(err);
      }
    }
    return false;
  };
}

/**
 * The grouping attributes of one record for one metric, or undefined when one is missing and has
 * no default (the record then does not contribute to that metric).
 */
export function groupAttributes(specs: AttributeSpec[], sources: Attrs[]): Attrs | undefined {
  const out: Attrs = {};
  for (const s of specs) {
    let v: AttrValue | undefined;
    for (const src of sources) {
      if (Object.prototype.hasOwnProperty.call(src, s.key)) {
        v = src[s.key];
        break;
      }
    }
    if (v === undefined || v === null || v === '') v = s.default_value;
    if (v === undefined) return undefined;
    out[s.key] = v;
  }
  return out;
}

/** The scope rrpipe's connectors put their metrics in (OTel uses the connector's module path). */
export function connectorScope(type: string): Scope {
  return { name: `rrpipe/connector/${type}`, version: '' };
}

/**
 * Timestamps for delta points: each emission covers (previous emission, now], strictly increasing
 * even when two batches arrive within the same millisecond, so downstream accumulation
 * (deltatocumulative) never sees two points of one stream at the same time.
 */
export class DeltaClock {
  private last: bigint;
  constructor() {
    this.last = BigInt(Date.now()) * 1_000_000n;
  }
  next(): { startNs: bigint; timeNs: bigint } {
    let now = BigInt(Date.now()) * 1_000_000n;
    if (now <= this.last) now = this.last + 1n;
    const startNs = this.last;
    this.last = now;
    return { startNs, timeNs: now };
  }
}

/** Aggregates values per (resource, attributes) for one metric within one batch. */
export class Groups<V> {
  private readonly m = new Map<string, { resource: Attrs; attributes: Attrs; value: V }>();
  add(resource: Attrs, attributes: Attrs, init: () => V, update: (v: V) => V): void {
    const k = `${keyOf(resource)}\u0003${keyOf(attributes)}`;
    const e = this.m.get(k);
    if (e) e.value = update(e.value);
    else this.m.set(k, { resource, attributes, value: update(init()) });
  }
  get size(): number {
    return this.m.size;
  }
  entries(): IterableIterator<{ resource: Attrs; attributes: Attrs; value: V }> {
    return this.m.values();
  }
}

function keyOf(a: Attrs): string {
  return Object.keys(a).sort().map((k) => `${k}\u0001${String(a[k])}`).join('\u0002');
}

/** One batch's groups as delta, monotonic sum points (one metric per definition), as count and sum emit them. */
export function deltaSumPoints(type: string, defs: { name: string; description: string }[], groups: Groups<number>[], clock: DeltaClock): MetricPoint[] {
  const { startNs, timeNs } = clock.next();
  const scope = connectorScope(type);
  const points: MetricPoint[] = [];
  defs.forEach((d, i) => {
    for (const g of groups[i]!.entries()) {
      points.push({ type: 'sum', temporality: 'delta', monotonic: true, name: d.name, description: d.description, unit: '', resource: g.resource, scope, attributes: g.attributes, startNs, timeNs, value: g.value });
    }
  });
  return points;
}

export type { MetricPoint };
