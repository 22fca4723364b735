import type { IndexDoc, RRPair } from './rrpair.js';

/** What `rrpipe query` and GET /api/v1/rrpairs ask a short-term store. Regexes are strings (JS syntax). */
export interface QueryFilter {
  /** Inclusive lower bound on ts. */
  start?: Date;
  /** Exclusive upper bound on ts. */
  end?: Date;
  cluster?: string;
  namespace?: string;
  service?: string;
  direction?: 'IN' | 'OUT';
  /** Exact match on l7protocol (HTTP, gRPC, postgres, …). */
  protocol?: string;
  /** Regex on command (HTTP method, gRPC method, Query). */
  method?: string;
  /** Regex on status. */
  status?: string;
  /** Regex on location (path, gRPC path, SQL). */
  endpoint?: string;
  limit?: number;
  /** Opaque paging token from a previous page. */
  after?: string;
}

export interface QueryHit {
  doc: IndexDoc;
  /** The full RRPair, when the store holds it. */
  rrpair?: RRPair;
}

export interface QueryPage {
  hits: QueryHit[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string;
}

/**
 * A short-term store that can be searched. Exporters that implement it (embedded, opensearch,
 * elasticsearch, redis, bigtable, azuredataexplorer) can be named by `rrpipe query --store <id>`.
 * Hits are ordered by ts ascending, then id.
 */
export interface QueryableStore {
  query(filter: QueryFilter, opts?: QueryOptions): Promise<QueryPage>;
  /** The full RRPair by id, when the store keeps it. */
  get?(id: string, opts?: QueryOptions): Promise<RRPair | undefined>;
  /**
   * Counts over every matching record, computed by the store itself (SQL GROUP BY, search
   * aggregations). Resolves undefined when the store cannot in its current mode; callers then
   * fold pages of query() (query_api's scan). `after` and `limit` of the filter are ignored.
   */
  aggregate?(filter: QueryFilter, spec: AggregateSpec, opts?: QueryOptions): Promise<Aggregates | undefined>;
  /**
   * One page of the matches ordered by a field, ties by (ts, id) ascending, sorted by the store
   * itself; undefined when it cannot (callers then keep the top rows of a scan).
   */
  sortedPage?(filter: QueryFilter, sort: SortSpec, opts?: QueryOptions): Promise<SortedPage | undefined>;
}

export const SORT_FIELDS = ['ts', 'service', 'direction', 'command', 'location', 'status', 'duration', 'req_size', 'res_size'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface SortSpec {
  field: SortField;
  desc: boolean;
  offset: number;
  limit: number;
}

export interface SortedPage {
  rows: IndexDoc[];
  /** Matching records. */
  total: number;
}

/** What aggregate() counts: the explorer's histogram, service map and protocol summary. */
export interface AggregateSpec {
  /** Calls and errors per time bucket; see bucketOf. */
  histogram?: { start: number; stepMs: number; buckets: number };
  /** Calls and errors per (service, direction, host, l7protocol). */
  groups?: boolean;
}

export interface AggregateGroup {
  service: string;
  direction: string;
  host: string;
  l7protocol: string;
  calls: number;
  errors: number;
}

export interface Aggregates {
  /** Matching records. */
  total: number;
  histogram?: { counts: number[]; errors: number[] };
  groups?: AggregateGroup[];
  /** Some records were left out (a scan's document limit, or more groups than a store returns). */
  truncated: boolean;
}

/** Aggregates of no records. */
export function emptyAggregates(spec: AggregateSpec): Aggregates {
  const zeros = () => new Array<number>(spec.histogram?.buckets ?? 0).fill(0);
  return { total: 0, truncated: false, ...(spec.histogram ? { histogram: { counts: zeros(), errors: zeros() } } : {}), ...(spec.groups ? { groups: [] } : {}) };
}

/** Bucket of a time (epoch ms) in a histogram spec: before the start goes to the first, past the end to the last. */
export function bucketOf(ms: number, h: NonNullable<AggregateSpec['histogram']>): number {
  return Math.min(h.buckets - 1, Math.max(0, Math.floor((ms - h.start) / h.stepMs)));
}

/**
 * A call counts as an error when its status is an HTTP code of 500 or more, or a status name
 * other than OK/success (gRPC, database). The stores' native aggregations count the same.
 */
export function isErrorStatus(status: string | undefined): boolean {
  if (!status) return false;
  if (/^\d+$/.test(status)) return Number(status) >= 500;
  return !/^(ok|success)$/i.test(status);
}

export interface QueryOptions {
  /** Aborted when the caller's deadline passes: a store that can stop its work stops it. */
  signal?: AbortSignal;
}

/** A query ran past its deadline (query_api answers 503, `rrpipe query` exits 1). */
export class QueryTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`the query ran past its deadline${ms ? ` of ${ms} ms` : ''} and was stopped; narrow the time window or the filters`);
  }
}

/**
 * Run a store call with a deadline: past it, the signal handed to the store aborts (the embedded
 * store terminates its query worker) and the caller gets a QueryTimeoutError whatever the store does.
 */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (!(ms > 0)) return fn(new AbortController().signal);
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new QueryTimeoutError(ms);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isQueryableStore(c: unknown): c is QueryableStore {
  return typeof (c as Partial<QueryableStore> | null)?.query === 'function';
}

/** A store opened for reading only, outside a running pipeline (`rrpipe query`). */
export interface StoreReader extends QueryableStore {
  close(): Promise<void>;
}

/**
 * Optional on an exporter factory: open the store read-only from the component's config, without
 * starting the exporter (no index or template creation, no retention job, no queue). `rrpipe
 * query` uses it when the factory has it, and otherwise creates and starts the exporter.
 */
export interface QueryableStoreFactory<C = any> {
  openReader(settings: import('./component.js').CreateSettings<C>, env: { dataDir: string }): Promise<StoreReader>;
}

export function hasOpenReader(f: unknown): f is QueryableStoreFactory {
  return typeof (f as Partial<QueryableStoreFactory> | null)?.openReader === 'function';
}

/** Encode a paging position (the sort values of the last hit) as an opaque token. */
export function encodeAfter(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** Decode a token from encodeAfter; throws a clear error on a malformed one. */
export function decodeAfter(token: string): unknown[] {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(v)) return v;
  } catch {
    /* fall through */
  }
  throw new Error(`invalid paging token "${token.slice(0, 40)}"`);
}
