/**
 * QueryableStore.aggregate on Elasticsearch / OpenSearch: one `size: 0` search whose aggregations
 * are a date_histogram (fixed interval, offset to the histogram start) and nested terms on
 * service → direction → host → l7protocol, each with a `filter` sub-aggregation counting errors.
 * rrpipe mode only: the otel mode's host lives in the disabled Body.http object, so that mode
 * answers undefined and the caller scans.
 */
import { bucketOf, emptyAggregates, type AggregateGroup, type AggregateSpec, type Aggregates, type QueryFilter } from '../../../core/query.js';
import type { EngineClient } from './client.js';
import { searchBody } from './query.js';

/** The errors of isErrorStatus (src/core/query.ts) as a query: a status of 500 or more, or a name other than OK/success. */
export function errorQuery(field: string): Record<string, unknown> {
  const re = (value: string) => ({ regexp: { [field]: { value, flags: 'NONE' } } });
  return {
    bool: {
      should: [
        re('0*([5-9][0-9]{2}|[1-9][0-9]{3,})'),
        { bool: { filter: [re('.*[^0-9].*')], must_not: [re('[oO][kK]|[sS][uU][cC][cC][eE][sS][sS]')] } },
      ],
      minimum_should_match: 1,
    },
  };
}

/** Terms buckets per level: more groups than this mark the answer truncated. */
const GROUP_LEVELS = [['service', 1000], ['direction', 10], ['host', 1000], ['l7protocol', 100]] as const;

export function aggregateBody(f: QueryFilter, spec: AggregateSpec, keywordSuffix: string): Record<string, unknown> {
  const { after: _a, limit: _l, ...filter } = f;
  const { query } = searchBody('rrpipe', filter, 0, keywordSuffix);
  const errors = { errors: { filter: errorQuery('status' + keywordSuffix) } };
  const aggs: Record<string, unknown> = {};
  if (spec.histogram) {
    const h = spec.histogram;
    const offset = ((h.start % h.stepMs) + h.stepMs) % h.stepMs;
    aggs.hist = { date_histogram: { field: 'ts', fixed_interval: `${h.stepMs}ms`, offset: `${offset}ms`, min_doc_count: 1 }, aggs: errors };
  }
  if (spec.groups) {
    let level: Record<string, unknown> = errors;
    for (const [field, size] of [...GROUP_LEVELS].reverse()) level = { [`by_${field}`]: { terms: { field: field + keywordSuffix, size }, aggs: level } };
    Object.assign(aggs, level);
  }
  return { query, size: 0, track_total_hits: true, aggs };
}

interface Bucket {
  key: string | number;
  doc_count: number;
  errors?: { doc_count: number };
  [sub: string]: unknown;
}
interface Terms {
  sum_other_doc_count?: number;
  buckets: Bucket[];
}

export function aggregatesOf(spec: AggregateSpec, res: { total: number; aggregations?: Record<string, unknown> }): Aggregates {
  const out: Aggregates = { ...emptyAggregates(spec), total: res.total };
  const a = res.aggregations ?? {};
  if (spec.histogram) {
    const h = spec.histogram;
    const { counts, errors } = out.histogram!;
    for (const b of (a.hist as Terms | undefined)?.buckets ?? []) {
      const i = bucketOf(Number(b.key), h);
      counts[i]! += b.doc_count;
      errors[i]! += b.errors?.doc_count ?? 0;
    }
  }
  if (spec.groups) {
    const groups: AggregateGroup[] = [];
    const walk = (t: Terms | undefined, depth: number, keys: string[]) => {
      if (!t) return;
      if (t.sum_other_doc_count) out.truncated = true;
      for (const b of t.buckets) {
        const k = [...keys, String(b.key)];
        if (depth + 1 < GROUP_LEVELS.length) walk(b[`by_${GROUP_LEVELS[depth + 1]![0]}`] as Terms | undefined, depth + 1, k);
        else groups.push({ service: k[0]!, direction: k[1]!, host: k[2]!, l7protocol: k[3]!, calls: b.doc_count, errors: b.errors?.doc_count ?? 0 });
      }
    };
    walk(a.by_service as Terms | undefined, 0, []);
    out.groups = groups;
  }
  return out;
}

export async function aggregateSearch(client: EngineClient, target: string, f: QueryFilter, spec: AggregateSpec, keywordSuffix: string): Promise<Aggregates> {
  return aggregatesOf(spec, await client.searchAggs(target, aggregateBody(f, spec, keywordSuffix)));
}
