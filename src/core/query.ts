import type { IndexDoc } from '../rrpair/index-doc.js';
import type { RRPair } from '../rrpair/types.js';

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
  query(filter: QueryFilter): Promise<QueryPage>;
  /** The full RRPair by id, when the store keeps it. */
  get?(id: string): Promise<RRPair | undefined>;
}

export function isQueryableStore(c: unknown): c is QueryableStore {
  return typeof (c as Partial<QueryableStore> | null)?.query === 'function';
}
