/**
 * The Simple Schema for Observability (ss4o) log document, as the OTel Collector contrib
 * opensearch exporter writes it by default (encoder.go encodeLogSSO, the ssoRecord struct in
 * sso_model.go), and reading it back: the RRPair is the `body` string.
 */
import type { RRRecord } from '../../../core/record.js';
import type { QueryFilter, QueryHit, QueryPage } from '../../../core/query.js';
import { compileFilter } from '../../../helpers/hot-store.js';
import { buildIndexDoc } from '../../../rrpair/derive.js';
import { logAttrsOf, resourceAttrsOf, tsNanos } from '../../../rrpair/otlp.js';
import type { RRPair } from '../../../rrpair/types.js';
import { goJson } from '../gojson.js';
import type { EngineClient, SearchHitRaw } from './client.js';
import type { Resolved } from './config.js';

/**
 * A time as Go's encoding/json writes a time.Time in UTC (RFC 3339 with nanoseconds, trailing
 * zeros of the fraction dropped): 2025-03-18T00:41:46.221941Z.
 */
export function goTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : 'Z');
}

/** The LogRecord time of a record: its time_unix_nano, else (not from OTLP) the RRPair's ts, else when rrpipe received it. */
function recordTimeNs(r: RRRecord): bigint {
  const t = r.timeUnixNano ?? tsNanos(typeof r.rrpair.ts === 'string' ? r.rrpair.ts : undefined);
  return t ? BigInt(t) : r.observedNs;
}

/**
 * One record as an ss4o document. Keys in the struct's order; empty `omitempty` fields left out
 * (schemaUrl, spanId, traceId: an RRPair LogRecord has none); `instrumentationScope` and
 * `severity` are structs, so Go always writes them, empty here (rrpipe does not keep the scope).
 * `observedTimestamp` is when the document is built, as the exporter's time.Now().
 */
export function ss4oDocument(r: RRRecord, s: Pick<Resolved, 'dataStream'>, nowNs: bigint): Record<string, unknown> {
  const resource: Record<string, string> = {};
  for (const [k, v] of Object.entries(resourceAttrsOf(r))) resource[k] = String(v);
  return {
    attributes: { ...logAttrsOf(r), data_stream: { dataset: s.dataStream.dataset, namespace: s.dataStream.namespace, type: 'record' } },
    // pcommon.Value.AsString of a map body: its JSON as Go writes it (keys sorted).
    body: goJson(r.rrpair),
    instrumentationScope: {},
    observedTimestamp: goTime(nowNs),
    resource,
    severity: {},
    '@timestamp': goTime(recordTimeNs(r)),
  };
}

/** The mappings of rrpipe's index template for ss4o documents (the catalog's ss4o_logs fields rrpipe writes and queries). */
export function ss4oMappings(): Record<string, unknown> {
  const kw = { type: 'keyword' };
  return {
    dynamic: false,
    properties: {
      '@timestamp': { type: 'date_nanos' },
      observedTimestamp: { type: 'date_nanos' },
      body: { type: 'text' },
      attributes: {
        dynamic: false,
        properties: { service: kw, namespace: kw, data_stream: { properties: { dataset: kw, namespace: kw, type: kw } } },
      },
      resource: { dynamic: false, properties: { cluster: kw } },
      instrumentationScope: { properties: { name: kw, version: kw, schemaUrl: kw } },
      severity: { properties: { text: kw, number: { type: 'long' } } },
      schemaUrl: kw,
      traceId: kw,
      spanId: kw,
    },
  };
}

/** The RRPair a document holds, or undefined when its body is not an RRPair's JSON. */
export function ss4oRRPair(src: Record<string, unknown> | undefined): RRPair | undefined {
  if (typeof src?.body !== 'string') return undefined;
  try {
    const v = JSON.parse(src.body) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as RRPair) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hit of a document that holds one log record (the ss4o and the otel shapes): the index
 * document derived from the RRPair, its attributes and resource, with the document's _id and, when
 * the RRPair has no ts, its @timestamp.
 */
export function logRecordHit(h: SearchHitRaw, rr: RRPair, resource: unknown, attributes: unknown): QueryHit {
  const doc = buildIndexDoc({
    rrpair: rr,
    resource: (resource ?? {}) as Record<string, string>,
    attributes: (attributes ?? {}) as Record<string, string>,
    observedNs: 0n,
  });
  doc.id = h._id;
  const ts = h._source?.['@timestamp'];
  if (typeof ts === 'string' && !rr.ts) doc.ts = ts;
  return { doc, rrpair: rr };
}

export function ss4oHit(h: SearchHitRaw): QueryHit | undefined {
  const rr = ss4oRRPair(h._source);
  return rr ? logRecordHit(h, rr, h._source?.resource, h._source?.attributes) : undefined;
}

/** Paging position: the @timestamp of the last hit handed out and the ids seen at that instant. */
interface Position {
  t: string;
  ids: string[];
}

function encodePosition(p: Position): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

function decodePosition(token: string): Position {
  try {
    const p = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Position;
    if (typeof p.t === 'string' && Array.isArray(p.ids) && p.ids.every((x) => typeof x === 'string')) return p;
  } catch {
    /* fall through */
  }
  throw new Error(`invalid paging token "${token.slice(0, 40)}"`);
}

/**
 * A query over ss4o documents. Time, cluster, namespace and service are fields of the document and
 * go to the engine; direction, method, status and endpoint live inside the `body` string (a text
 * field the engine cannot match exactly), so they are applied to each hit read back (RE2, linear
 * time). Hits come in @timestamp order; the paging token carries the last instant handed out and
 * the ids already seen at it, so records sharing a timestamp are neither lost nor repeated.
 */
export async function ss4oQuery(client: EngineClient, s: Resolved, f: QueryFilter, limit: number, keywordSuffix: string): Promise<QueryPage> {
  // What the engine does not match (direction, method, status, endpoint, and any filter field added later) is matched here.
  const { start: _s, end: _e, after: _a, limit: _l, cluster: _c, namespace: _n, service: _v, ...rest } = f;
  const post = compileFilter(rest);
  let pos = f.after ? decodePosition(f.after) : undefined;
  const kw = (field: string) => field + keywordSuffix;
  const out: { hit: QueryHit; pos: Position }[] = [];
  let size = Math.min(Math.max(limit + 1, 100), 10_000);
  for (;;) {
    const filter: unknown[] = [];
    const range: Record<string, string> = {};
    // A position came from a page inside the same bounds, so it is never before start.
    if (pos) range.gte = pos.t;
    else if (f.start) range.gte = f.start.toISOString();
    if (f.end) range.lt = f.end.toISOString();
    if (Object.keys(range).length) filter.push({ range: { '@timestamp': range } });
    if (f.cluster !== undefined) filter.push({ term: { [kw('resource.cluster')]: f.cluster } });
    if (f.namespace !== undefined) filter.push({ term: { [kw('attributes.namespace')]: f.namespace } });
    if (f.service !== undefined) filter.push({ term: { [kw('attributes.service')]: f.service } });
    const raw = await client.search(s.searchTarget, {
      query: filter.length ? { bool: { filter } } : { match_all: {} },
      sort: [{ '@timestamp': 'asc' }],
      size,
      track_total_hits: false,
    });
    let progressed = false;
    for (const h of raw) {
      const t = h._source?.['@timestamp'];
      if (typeof t !== 'string') continue;
      if (pos && t === pos.t && pos.ids.includes(h._id)) continue;
      progressed = true;
      pos = pos && pos.t === t ? { t, ids: [...pos.ids, h._id] } : { t, ids: [h._id] };
      const hit = ss4oHit(h);
      if (hit && post.matches(hit.doc)) out.push({ hit, pos });
      if (out.length > limit) break;
    }
    if (out.length > limit || raw.length < size) break;
    // A page wholly at one instant already seen: read a larger page past it.
    if (!progressed) {
      if (size === 10_000) throw new Error(`more than 10000 documents share @timestamp ${pos?.t}; narrow the filters`);
      size = Math.min(size * 4, 10_000);
    }
  }
  const page = out.slice(0, limit);
  const more = out.length > limit;
  return { hits: page.map((x) => x.hit), ...(more && page.length ? { next: encodePosition(page[page.length - 1]!.pos) } : {}) };
}
