import type { Component, Consumer } from '../core/component.js';
import type { AggregateSpec, QueryFilter, QueryHit, QueryOptions, QueryPage, QueryableStore, SortSpec } from '../core/query.js';
import type { IndexDoc } from '../rrpair/index-doc.js';
import { compileLinear, type LinearRegex } from './linear-regex.js';

/**
 * Shared pieces of the short-term (hot) stores: filter matching, paging cursors and the
 * (ts, id) order every store returns hits in.
 */

export const DEFAULT_QUERY_LIMIT = 100;

/** A filter compiled once per query: the regexes built, the bounds as normalized ts strings. */
export interface CompiledFilter {
  filter: QueryFilter;
  limit: number;
  /** Inclusive, as a normalized ts ("YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"), when given. */
  startTs?: string;
  /** Exclusive, normalized, when given. */
  endTs?: string;
  after?: Cursor;
  matches(doc: IndexDoc): boolean;
}

export interface Cursor {
  ts: string;
  id: string;
}

/** The normalized ts of a Date ("2025-03-18T00:41:46.221000000Z"); sorts as strings do. */
export function tsOfDate(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000000Z`;
}

export function compileFilter(filter: QueryFilter): CompiledFilter {
  // RE2 (linear time): a user's pattern cannot hold the event loop however it is written.
  const re = (name: string, src?: string): LinearRegex | undefined => (src === undefined || src === '' ? undefined : compileLinear(src, `query: ${name}`));
  const method = re('method', filter.method);
  const status = re('status', filter.status);
  const endpoint = re('endpoint', filter.endpoint);
  const startTs = filter.start ? tsOfDate(filter.start) : undefined;
  const endTs = filter.end ? tsOfDate(filter.end) : undefined;
  const after = filter.after ? decodeCursor(filter.after) : undefined;
  const limit = filter.limit && filter.limit > 0 ? Math.floor(filter.limit) : DEFAULT_QUERY_LIMIT;
  return {
    filter,
    limit,
    ...(startTs ? { startTs } : {}),
    ...(endTs ? { endTs } : {}),
    ...(after ? { after } : {}),
    matches(doc) {
      if (startTs && doc.ts < startTs) return false;
      if (endTs && doc.ts >= endTs) return false;
      if (after && compareKey(doc, after) <= 0) return false;
      if (filter.cluster !== undefined && doc.cluster !== filter.cluster) return false;
      if (filter.namespace !== undefined && doc.namespace !== filter.namespace) return false;
      if (filter.service !== undefined && doc.service !== filter.service) return false;
      if (filter.direction !== undefined && doc.direction !== filter.direction) return false;
      if (filter.protocol !== undefined && doc.l7protocol !== filter.protocol) return false;
      if (method && !method.test(doc.command)) return false;
      if (status && !status.test(doc.status)) return false;
      if (endpoint && !endpoint.test(doc.location)) return false;
      return true;
    },
  };
}

/** The value a regex filter matches exactly, when it is written `^literal$` with no other regex syntax. */
export function exactLiteral(src: string | undefined): string | undefined {
  if (!src) return undefined;
  const m = /^\^((?:[^\\^$.*+?()[\]{}|]|\\[\\^$.*+?()[\]{}|/])*)\$$/.exec(src);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
}

export function compareKey(a: Cursor, b: Cursor): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function compareHits(a: QueryHit, b: QueryHit): number {
  return compareKey(a.doc, b.doc);
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.id])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') return { ts: v[0], id: v[1] };
  } catch {
    /* fall through */
  }
  throw new Error('query: "after" is not a paging token from this store');
}

/** Sort, cut at the limit and set `next` when there may be more. */
export function pageOf(hits: QueryHit[], limit: number, maybeMore: boolean): QueryPage {
  hits.sort(compareHits);
  const more = maybeMore || hits.length > limit;
  const page = hits.slice(0, limit);
  const last = page[page.length - 1];
  return { hits: page, ...(more && last ? { next: encodeCursor(last.doc) } : {}) };
}

/** Microseconds since the epoch of a normalized ts (exact: fits in a double until year 2255). */
export function tsMicros(ts: string): number {
  const ms = Date.parse(`${ts.slice(0, 19)}Z`);
  const frac = ts.slice(20, 26).padEnd(6, '0');
  return ms * 1000 + Number(frac);
}

/** An exporter component that can also be queried (for `rrpipe query --store <id>`). */
export function queryable(component: Component & Consumer, store: QueryableStore): Component & Consumer & QueryableStore {
  return {
    start: (host) => component.start(host),
    shutdown: (deadline) => component.shutdown(deadline),
    consume: (batch, ctx) => component.consume(batch, ctx),
    query: (filter, opts) => store.query(filter, opts),
    ...(store.get ? { get: (id: string, opts?: QueryOptions) => store.get!(id, opts) } : {}),
    ...(store.aggregate ? { aggregate: (filter: QueryFilter, spec: AggregateSpec, opts?: QueryOptions) => store.aggregate!(filter, spec, opts) } : {}),
    ...(store.sortedPage ? { sortedPage: (filter: QueryFilter, sort: SortSpec, opts?: QueryOptions) => store.sortedPage!(filter, sort, opts) } : {}),
  };
}

/** A clear dead-letter reason for a record over a store's size limit. */
export function tooLargeReason(store: string, size: number, limit: number, what: string): string {
  return `record too large for ${store}: ${what} is ${size} bytes, the limit is ${limit} bytes`;
}
