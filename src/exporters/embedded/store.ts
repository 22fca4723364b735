import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { decodeAfter, emptyAggregates, encodeAfter, SORT_FIELDS, type AggregateSpec, type Aggregates, type QueryFilter, type SortedPage, type SortSpec, type QueryHit, type QueryOptions, type QueryPage, type StoreReader } from '../../core/query.js';
import { cachedLinear, type LinearRegex } from '../../helpers/linear-regex.js';
import type { RRRecord } from '../../core/record.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import { SqlWorker } from './sql-worker.js';
import type { RRPair } from '../../rrpair/types.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

/** Columns of the rrpairs table besides the IndexDoc fields. */
const NUMERIC = new Set(['duration', 'req_size', 'res_size']);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rrpairs (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  cluster TEXT NOT NULL DEFAULT '',
  namespace TEXT NOT NULL DEFAULT '',
  service TEXT NOT NULL DEFAULT '',
  direction TEXT NOT NULL DEFAULT '',
  l7protocol TEXT NOT NULL DEFAULT '',
  command TEXT NOT NULL DEFAULT '',
  location TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '',
  host TEXT NOT NULL DEFAULT '',
  duration REAL NOT NULL DEFAULT 0,
  req_size INTEGER NOT NULL DEFAULT 0,
  res_size INTEGER NOT NULL DEFAULT 0,
  archive_uri TEXT,
  extra TEXT,
  rrpair TEXT,
  stored_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rrpairs_ts ON rrpairs (ts, id);
CREATE INDEX IF NOT EXISTS rrpairs_service_ts ON rrpairs (service, ts);
CREATE INDEX IF NOT EXISTS rrpairs_cls ON rrpairs (command, location, status);
CREATE INDEX IF NOT EXISTS rrpairs_direction_ts ON rrpairs (direction, ts);
CREATE INDEX IF NOT EXISTS rrpairs_stored ON rrpairs (stored_ms);
CREATE TABLE IF NOT EXISTS rrpipe_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
const SCHEMA_VERSION = '1';

/** Epoch milliseconds of the ts column (fixed-width RFC 3339 with nanoseconds). */
const TS_MS = "(CAST(strftime('%s', substr(ts, 1, 19)) AS INTEGER) * 1000 + CAST(substr(ts, 21, 3) AS INTEGER))";
/** 1 for an error status, else 0: the SQL of isErrorStatus (src/core/query.ts). */
const IS_ERROR = "(CASE WHEN status = '' THEN 0 WHEN status NOT GLOB '*[^0-9]*' THEN CAST(status AS INTEGER) >= 500 ELSE lower(status) NOT IN ('ok', 'success') END)";

export interface EmbeddedStoreOptions {
  path: string;
  readOnly?: boolean;
  storeRRPair?: boolean;
  /** Rows older than this (by the time they were stored) are deleted; 0 keeps them. Milliseconds. */
  ttlMs?: number;
  /** Cap on the data held (pages in use), in bytes; the oldest rows go first; 0 = no cap. */
  maxSizeBytes?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The embedded short-term store: one SQLite file (WAL) holding index documents and, optionally,
 * the whole RRPairs. Readers in other processes (rrpipe query) may open it while the daemon writes.
 */
export class EmbeddedStore implements StoreReader {
  readonly db: Database.Database;
  private readonly insert?: Database.Statement;
  private readonly now: () => number;
  /** Reads run here, off the event loop (an in-memory database has no second connection: in-thread). */
  private readonly reader?: SqlWorker;

  constructor(private readonly opts: EmbeddedStoreOptions) {
    this.now = opts.now ?? Date.now;
    if (!opts.readOnly && opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new Database(opts.path, { readonly: opts.readOnly ?? false, fileMustExist: opts.readOnly ?? false });
    this.db.function('regexp', { deterministic: true }, (pattern: unknown, value: unknown) => (this.regex(String(pattern)).test(String(value ?? '')) ? 1 : 0));
    if (opts.path !== ':memory:') this.reader = new SqlWorker(opts.path);
    if (!opts.readOnly) {
      // auto_vacuum must be set before the first table exists; incremental lets the cap give space back.
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('cache_size = -32768'); // 32 MiB: index pages stay in memory while indexing
      this.db.exec(SCHEMA);
      this.db.prepare('INSERT OR IGNORE INTO rrpipe_meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
      const cols = [...INDEX_FIELDS, 'extra', 'rrpair', 'stored_ms'];
      this.insert = this.db.prepare(`INSERT OR REPLACE INTO rrpairs (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
    }
    this.db.pragma('busy_timeout = 5000');
  }

  private regex(pattern: string): LinearRegex {
    return cachedLinear(pattern);
  }

  /**
   * Write records (idempotent by record id: a record written again replaces the row).
   * Returns how many rows the size cap removed afterwards.
   */
  write(batch: readonly RRRecord[]): number {
    const insert = this.insert;
    if (!insert) throw new Error('the embedded store was opened read-only');
    const stored = this.now();
    const tx = this.db.transaction((recs: readonly RRRecord[]) => {
      for (const r of recs) insert.run(this.row(r, stored));
    });
    tx(batch);
    return this.opts.maxSizeBytes ? this.enforceSizeCap() : 0;
  }

  private row(r: RRRecord, stored: number): Record<string, unknown> {
    const doc = indexDocOf(r);
    const row: Record<string, unknown> = {};
    let extra: Record<string, unknown> | undefined;
    for (const f of INDEX_FIELDS) row[f] = doc[f] ?? (f === 'archive_uri' ? null : NUMERIC.has(f) ? 0 : '');
    for (const [k, v] of Object.entries(doc)) {
      if (!(INDEX_FIELDS as readonly string[]).includes(k) && v !== undefined) (extra ??= {})[k] = v;
    }
    row.extra = extra ? JSON.stringify(extra) : null;
    row.rrpair = this.opts.storeRRPair ? JSON.stringify(r.rrpair) : null;
    row.stored_ms = stored;
    for (const f of ['duration', 'req_size', 'res_size']) if (typeof row[f] !== 'number' || !Number.isFinite(row[f])) row[f] = 0;
    return row;
  }

  /** Delete rows stored longer ago than the ttl; returns how many went. */
  enforceRetention(): number {
    if (!this.opts.ttlMs || this.opts.readOnly) return 0;
    const cutoff = this.now() - this.opts.ttlMs;
    const n = this.db.prepare('DELETE FROM rrpairs WHERE stored_ms < ?').run(cutoff).changes;
    if (n > 0) this.db.pragma('incremental_vacuum');
    return n;
  }

  /** Bytes held by live pages of the database file. */
  dataSize(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /** Delete the oldest rows (by store time, then ts) until the data is under the cap. */
  enforceSizeCap(): number {
    const cap = this.opts.maxSizeBytes;
    if (!cap || this.opts.readOnly) return 0;
    let removed = 0;
    for (let size = this.dataSize(); size > cap; size = this.dataSize()) {
      const count = (this.db.prepare('SELECT count(*) AS n FROM rrpairs').get() as { n: number }).n;
      if (count === 0) break;
      // Remove a share proportional to the overshoot, plus a margin, so a cap is not hit on every write.
      const share = Math.min(1, (size - cap) / size + 0.1);
      const n = Math.max(1, Math.ceil(count * share));
      removed += this.db
        .prepare('DELETE FROM rrpairs WHERE rowid IN (SELECT rowid FROM rrpairs ORDER BY stored_ms, ts LIMIT ?)')
        .run(n).changes;
      this.db.pragma('incremental_vacuum');
    }
    return removed;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM rrpairs').get() as { n: number }).n;
  }

  async query(filter: QueryFilter, opts: QueryOptions = {}): Promise<QueryPage> {
    const { sql, args, limit } = this.select(filter);
    const rows = this.reader ? await this.reader.all(sql, args, opts.signal) : (this.db.prepare(sql).all(...args) as Record<string, unknown>[]);
    return this.page(rows, limit);
  }

  /** The query on this thread (tests and tools that hold no event loop worth keeping free). */
  querySync(filter: QueryFilter): QueryPage {
    const { sql, args, limit } = this.select(filter);
    return this.page(this.db.prepare(sql).all(...args) as Record<string, unknown>[], limit);
  }

  private select(filter: QueryFilter): { sql: string; args: unknown[]; limit: number } {
    const { where, args } = this.where(filter);
    if (filter.after) {
      const [ts, id] = decodeAfter(filter.after);
      if (typeof ts !== 'string' || typeof id !== 'string') throw new Error('invalid paging token');
      where.push('(ts > ? OR (ts = ? AND id > ?))');
      args.push(ts, ts, id);
    }
    const limit = Math.min(Math.max(1, filter.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
    const sql = `SELECT * FROM rrpairs${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY ts, id LIMIT ?`;
    return { sql, args: [...args, limit + 1], limit };
  }

  /**
   * Counts by GROUP BY in the query worker: one statement per part of the spec, over the same
   * WHERE as query() (paging ignored). Error and bucket expressions match isErrorStatus and bucketOf.
   */
  async aggregate(filter: QueryFilter, spec: AggregateSpec, opts: QueryOptions = {}): Promise<Aggregates> {
    const { where, args } = this.where(filter);
    const from = `FROM rrpairs${where.length ? ' WHERE ' + where.join(' AND ') : ''}`;
    const all = (sql: string, a: unknown[]) => (this.reader ? this.reader.all(sql, a, opts.signal) : Promise.resolve(this.db.prepare(sql).all(...a) as Record<string, unknown>[]));
    const out = emptyAggregates(spec);
    if (spec.histogram) {
      const h = spec.histogram;
      const { counts, errors } = out.histogram!;
      const rows = await all(`SELECT (${TS_MS} - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS b, count(*) AS n, sum(${IS_ERROR}) AS e ${from} GROUP BY b`, [h.start, h.stepMs, ...args]);
      for (const r of rows) {
        const i = Math.min(h.buckets - 1, Math.max(0, Number(r.b))); // SQLite divides toward zero: any negative is before the start
        counts[i]! += Number(r.n);
        errors[i]! += Number(r.e);
      }
      out.total = counts.reduce((a, b) => a + b, 0);
    }
    if (spec.groups) {
      const rows = await all(`SELECT service, direction, host, l7protocol, count(*) AS n, sum(${IS_ERROR}) AS e ${from} GROUP BY service, direction, host, l7protocol`, args);
      out.groups = rows.map((r) => ({ service: String(r.service), direction: String(r.direction), host: String(r.host), l7protocol: String(r.l7protocol), calls: Number(r.n), errors: Number(r.e) }));
      out.total = out.groups.reduce((a, g) => a + g.calls, 0);
    }
    if (!spec.histogram && !spec.groups) out.total = Number((await all(`SELECT count(*) AS n ${from}`, args))[0]?.n ?? 0);
    return out;
  }

  /** ORDER BY the column (ties by ts, id) with LIMIT/OFFSET in the query worker, and the count. */
  async sortedPage(filter: QueryFilter, sort: SortSpec, opts: QueryOptions = {}): Promise<SortedPage> {
    if (!(SORT_FIELDS as readonly string[]).includes(sort.field)) throw new Error(`cannot sort by ${sort.field}`);
    const { where, args } = this.where(filter);
    const from = `FROM rrpairs${where.length ? ' WHERE ' + where.join(' AND ') : ''}`;
    const all = (sql: string, a: unknown[]) => (this.reader ? this.reader.all(sql, a, opts.signal) : Promise.resolve(this.db.prepare(sql).all(...a) as Record<string, unknown>[]));
    const limit = Math.min(Math.max(0, Math.floor(sort.limit)), MAX_LIMIT);
    const [rows, count] = await Promise.all([
      all(`SELECT * ${from} ORDER BY ${sort.field} ${sort.desc ? 'DESC' : 'ASC'}, ts, id LIMIT ? OFFSET ?`, [...args, limit, Math.max(0, Math.floor(sort.offset))]),
      all(`SELECT count(*) AS n ${from}`, args),
    ]);
    return { rows: rows.map((r) => this.hit(r).doc), total: Number(count[0]?.n ?? 0) };
  }

  private where(filter: QueryFilter): { where: string[]; args: unknown[] } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.start) {
      where.push('ts >= ?');
      args.push(tsBound(filter.start));
    }
    if (filter.end) {
      where.push('ts < ?');
      args.push(tsBound(filter.end));
    }
    for (const f of ['cluster', 'namespace', 'service', 'direction'] as const) {
      const v = filter[f];
      if (v !== undefined) {
        where.push(`${f} = ?`);
        args.push(v);
      }
    }
    if (filter.protocol !== undefined) {
      where.push('l7protocol = ?');
      args.push(filter.protocol);
    }
    for (const [f, col] of [['method', 'command'], ['status', 'status'], ['endpoint', 'location']] as const) {
      const v = filter[f];
      if (v !== undefined) {
        this.regex(v); // a bad regex fails here with its own message
        where.push(`${col} REGEXP ?`);
        args.push(v);
      }
    }
    return { where, args };
  }

  private page(rows: Record<string, unknown>[], limit: number): QueryPage {
    const more = rows.length > limit;
    const hits = rows.slice(0, limit).map((row) => this.hit(row));
    const last = hits[hits.length - 1];
    return { hits, ...(more && last ? { next: encodeAfter([last.doc.ts, last.doc.id]) } : {}) };
  }

  private hit(row: Record<string, unknown>): QueryHit {
    const doc = {} as IndexDoc;
    for (const f of INDEX_FIELDS) {
      const v = row[f];
      if (v === null || v === undefined) continue;
      (doc as Record<string, unknown>)[f] = v;
    }
    if (typeof row.extra === 'string') Object.assign(doc, JSON.parse(row.extra));
    const hit: QueryHit = { doc };
    if (typeof row.rrpair === 'string') hit.rrpair = JSON.parse(row.rrpair) as RRPair;
    return hit;
  }

  async get(id: string, opts: QueryOptions = {}): Promise<RRPair | undefined> {
    const sql = 'SELECT rrpair FROM rrpairs WHERE id = ?';
    const row = (this.reader ? await this.reader.get(sql, [id], opts.signal) : this.db.prepare(sql).get(id)) as { rrpair: string | null } | undefined;
    return row?.rrpair ? (JSON.parse(row.rrpair) as RRPair) : undefined;
  }

  async close(): Promise<void> {
    await this.reader?.close();
    if (this.db.open) this.db.close();
  }
}

/** A Date as the fixed-width RFC 3339 nanosecond text the ts column holds (so text order = time order). */
export function tsBound(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
