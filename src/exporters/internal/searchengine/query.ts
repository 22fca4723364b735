/** Reading: QueryFilter → the engines' query DSL, hits → index documents, and the QueryableStore on a client. */
import { decodeAfter, emptyAggregates, encodeAfter, type AggregateSpec, type Aggregates, type QueryFilter, type QueryHit, type QueryPage, type QueryableStore } from '../../../core/query.js';
import type { IndexDoc } from '../../../rrpair/index-doc.js';
import type { RRPair } from '../../../rrpair/types.js';
import { aggregateSearch } from './aggregate.js';
import { errorType, statusOf, type EngineClient, type SearchHitRaw } from './client.js';
import type { Resolved, SearchExporterConfig } from './config.js';
import { logRecordHit, ss4oQuery, ss4oRRPair } from './ss4o.js';

/** QueryFilter as a JS regex (unanchored search) → a Lucene regexp (whole-term match). */
export function toLuceneRegex(js: string): string {
  let src = js;
  let anchoredStart = false;
  let anchoredEnd = false;
  if (src.startsWith('^')) {
    anchoredStart = true;
    src = src.slice(1);
  }
  if (src.endsWith('$') && !src.endsWith('\\$')) {
    anchoredEnd = true;
    src = src.slice(0, -1);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '\\') {
      const n = src[i + 1];
      i++;
      if (n === undefined) throw new Error(`regex "${js}" ends with a backslash`);
      const cls: Record<string, string> = { d: '0-9', w: 'A-Za-z0-9_', s: ' \\t\\n\\r' };
      if (cls[n]) out += inClass ? cls[n] : `[${cls[n]}]`;
      else if (cls[n.toLowerCase()] && !inClass) out += `[^${cls[n.toLowerCase()]}]`;
      else if (/[0-9bBpPkcux]/.test(n)) throw new Error(`regex "${js}": \\${n} is not supported by the search engine's regexp`);
      else if (n === 't') out += '\\t';
      else if (n === 'n') out += '\\n';
      else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch === '"' ? '\\"' : ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      continue;
    }
    if (ch === '(' && src[i + 1] === '?') {
      if (src[i + 2] === ':') {
        out += '(';
        i += 2;
        continue;
      }
      throw new Error(`regex "${js}": lookaround and named groups are not supported by the search engine's regexp`);
    }
    if ((ch === '*' || ch === '+' || ch === '?' || ch === '}') && src[i + 1] === '?') throw new Error(`regex "${js}": lazy quantifiers are not supported by the search engine's regexp`);
    if (ch === '^' || ch === '$') throw new Error(`regex "${js}": ^ and $ are supported only at the start and end`);
    // Characters that are operators in Lucene regexp but literal in JS.
    if ('"~&@<>#'.includes(ch)) {
      out += `\\${ch}`;
      continue;
    }
    out += ch;
  }
  return `${anchoredStart ? '' : '.*'}(${out})${anchoredEnd ? '' : '.*'}`;
}

interface Fields {
  ts: string;
  sort: [string, string];
  cluster: string;
  namespace: string;
  service: string;
  direction: string;
  l7protocol: string;
  command: string;
  status: string;
  location: string;
}

const RRPIPE_FIELDS: Fields = { ts: 'ts', sort: ['ts.sort', 'id'], cluster: 'cluster', namespace: 'namespace', service: 'service', direction: 'direction', l7protocol: 'l7protocol', command: 'command', status: 'status', location: 'location' };
const OTEL_FIELDS: Fields = { ts: '@timestamp', sort: ['@timestamp', 'Body.uuid'], cluster: 'Resource.cluster', namespace: 'Attributes.namespace', service: 'Attributes.service', direction: 'Body.direction', l7protocol: 'Body.l7protocol', command: 'Body.command', status: 'Body.status', location: 'Body.location' };

export function searchBody(mode: 'rrpipe' | 'otel', f: QueryFilter, size: number, keywordSuffix = ''): Record<string, unknown> {
  const base = mode === 'otel' ? OTEL_FIELDS : RRPIPE_FIELDS;
  const kw = (field: string) => field + keywordSuffix;
  const F: Fields = {
    ts: base.ts,
    sort: [base.sort[0], kw(base.sort[1])],
    cluster: kw(base.cluster), namespace: kw(base.namespace), service: kw(base.service), direction: kw(base.direction), l7protocol: kw(base.l7protocol),
    command: kw(base.command), status: kw(base.status), location: kw(base.location),
  };
  const filter: unknown[] = [];
  if (f.start || f.end) {
    const r: Record<string, string> = {};
    if (f.start) r.gte = f.start.toISOString();
    if (f.end) r.lt = f.end.toISOString();
    filter.push({ range: { [F.ts]: r } });
  }
  for (const k of ['cluster', 'namespace', 'service', 'direction'] as const) if (f[k] !== undefined) filter.push({ term: { [F[k]]: f[k] } });
  if (f.protocol !== undefined) filter.push({ term: { [F.l7protocol]: f.protocol } });
  for (const [k, field] of [['method', F.command], ['status', F.status], ['endpoint', F.location]] as const) {
    const v = f[k];
    if (v !== undefined) filter.push({ regexp: { [field]: { value: toLuceneRegex(v), flags: 'NONE' } } });
  }
  const body: Record<string, unknown> = {
    query: filter.length ? { bool: { filter } } : { match_all: {} },
    sort: [{ [F.sort[0]]: 'asc' }, { [F.sort[1]]: 'asc' }],
    size,
    track_total_hits: false,
  };
  if (f.after) body.search_after = decodeAfter(f.after);
  return body;
}

export function hitOf(mode: 'rrpipe' | 'otel', h: SearchHitRaw): QueryHit {
  const src = h._source ?? {};
  if (mode === 'otel') return logRecordHit(h, (src.Body ?? {}) as RRPair, src.Resource, src.Attributes);
  const { rrpair, '@timestamp': _ts, ...rest } = src;
  const hit: QueryHit = { doc: rest as IndexDoc };
  if (rrpair && typeof rrpair === 'object') hit.rrpair = rrpair as RRPair;
  return hit;
}

export function searchStore(getClient: () => EngineClient | undefined, getResolved: () => Resolved | undefined, c: SearchExporterConfig): QueryableStore {
  return {
    async query(f: QueryFilter): Promise<QueryPage> {
      const client = getClient();
      const s = getResolved();
      if (!client || !s) throw new Error('the exporter is not started');
      // One more than asked tells whether there is a next page; the engines cap a page at 10,000.
      const limit = Math.min(Math.max(1, f.limit ?? 100), c.query.max_limit, 9_999);
      if (s.mode === 'ss4o') {
        try {
          return await ss4oQuery(client, s, f, limit, c.query.keyword_suffix);
        } catch (err) {
          if (statusOf(err) === 404) return { hits: [] };
          if (statusOf(err) === undefined) throw err;
          throw new Error(`search ${s.searchTarget}: ${errorType(err)}`, { cause: err });
        }
      }
      const body = searchBody(s.mode, f, Math.min(limit + 1, 10_000), c.query.keyword_suffix);
      let raw: SearchHitRaw[];
      try {
        raw = await client.search(s.searchTarget, body);
      } catch (err) {
        if (statusOf(err) === 404) return { hits: [] }; // nothing indexed yet
        throw new Error(`search ${s.searchTarget}: ${errorType(err)}`, { cause: err });
      }
      const more = raw.length > limit;
      const page = raw.slice(0, limit);
      const mode = s.mode;
      const hits = page.map((h) => hitOf(mode, h));
      const last = page[page.length - 1];
      return { hits, ...(more && last?.sort ? { next: encodeAfter(last.sort) } : {}) };
    },
    async aggregate(f: QueryFilter, spec: AggregateSpec): Promise<Aggregates | undefined> {
      const client = getClient();
      const s = getResolved();
      if (!client || !s) throw new Error('the exporter is not started');
      if (s.mode !== 'rrpipe') return undefined;
      try {
        return await aggregateSearch(client, s.searchTarget, f, spec, c.query.keyword_suffix);
      } catch (err) {
        if (statusOf(err) === 404) return emptyAggregates(spec); // nothing indexed yet
        throw new Error(`search ${s.searchTarget}: ${errorType(err)}`, { cause: err });
      }
    },
    async get(id: string): Promise<RRPair | undefined> {
      const client = getClient();
      const s = getResolved();
      if (!client || !s) throw new Error('the exporter is not started');
      if (s.mode === 'rrpipe' && !c.mapping.store_rrpair) return undefined;
      const rrpairOf = (src: Record<string, unknown> | undefined) =>
        !src ? undefined : s.mode === 'ss4o' ? ss4oRRPair(src) : ((s.mode === 'otel' ? src.Body : src.rrpair) as RRPair | undefined);
      if (s.indexMode === 'fixed') return rrpairOf(await client.getDoc(s.index, id));
      // ss4o documents hold the RRPair id only in _id (and inside the body string).
      const field = s.mode === 'ss4o' ? '_id' : (s.mode === 'otel' ? 'Body.uuid' : 'id') + c.query.keyword_suffix;
      const hits = await client.search(s.searchTarget, { query: { term: { [field]: id } }, size: 1 });
      return rrpairOf(hits[0]?._source);
    },
  };
}
