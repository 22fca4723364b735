import type { ConnectionOptions } from 'node:tls';
import type { Redis, Cluster, RedisOptions } from 'ioredis';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { ExporterFactory, CreateSettings } from '../../core/component.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, obj, secret, str, strings, tlsClient, type Config, type TlsClientConfig } from '../../config/fragments.js';
import { PartialFailureError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { createExporter } from '../../helpers/exporter.js';
import { splitHostPort } from '../../helpers/net.js';
import { compileFilter, compareKey, exactLiteral, pageOf, queryable, tooLargeReason, tsMicros } from '../../helpers/hot-store.js';
import { clientTlsOptions, clientUsesTls } from '../../helpers/tls.js';
import { indexDocOf } from '../../rrpair/derive.js';
import type { IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

const DAY_MS = 86_400_000;
/** ids fetched per round trip while a query walks a sorted set. */
const SCAN_CHUNK = 500;

/** The keys one record touches; exported for tests and the README. */
export function keysOf(prefix: string, doc: IndexDoc): { record: string; days: string; sets: string[] } {
  const day = doc.ts.slice(0, 10);
  const sets = [`${prefix}ix:${day}:all`, `${prefix}ix:${day}:svc:${doc.service}`, `${prefix}ix:${day}:cmd:${doc.command}`, `${prefix}ix:${day}:st:${doc.status}`];
  return { record: `${prefix}rr:${doc.id}`, days: `${prefix}days`, sets };
}

function dayScore(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

/** TLS when the endpoint is rediss://, or a `tls` block is given without `insecure: true`. */
export function tlsOptions(t: TlsClientConfig | undefined, endpoint: string): ConnectionOptions | undefined {
  return clientUsesTls(t, endpoint.startsWith('rediss://') ? true : undefined) ? clientTlsOptions(t) : undefined;
}

/**
 * Index documents (and optionally full RRPairs) in Redis: one hash per record with a TTL, and
 * per-day sorted sets (all, by service, by command, by status) scored by event time in
 * microseconds, which expire with the data they point at.
 */
export class RedisStore implements QueryableStore {
  client!: Redis | Cluster;
  private limit = Number.POSITIVE_INFINITY;
  private limitSource = '';

  constructor(private readonly cfg: RedisExporterConfig, _configDir: string, private readonly log: CreateSettings<unknown>['logger']) {}

  async start(): Promise<void> {
    const c = this.cfg;
    const common: RedisOptions = {
      lazyConnect: true,
      enableAutoPipelining: true,
      // Fail commands fast on a lost connection; the exporter helper retries the batch (writes are idempotent).
      maxRetriesPerRequest: 1,
      connectTimeout: c.connect_timeout,
      db: c.db,
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
    };
    const tlsOpts = tlsOptions(c.tls, c.endpoint);
    if (tlsOpts) common.tls = tlsOpts;
    if (c.cluster?.enabled) {
      const nodes = (c.cluster.nodes.length ? c.cluster.nodes : [c.endpoint]).map((n) => splitHostPort(n, 6379, 'localhost'));
      this.client = new (ioredis().Cluster)(nodes, { enableAutoPipelining: true, lazyConnect: true, redisOptions: common, ...(tlsOpts ? { dnsLookup: (a, cb) => cb(null, a) } : {}) });
    } else if (/^rediss?:\/\//.test(c.endpoint)) {
      this.client = new (ioredis().Redis)(c.endpoint, common);
    } else {
      this.client = new (ioredis().Redis)({ ...common, ...splitHostPort(c.endpoint, 6379, 'localhost') });
    }
    let lastError: Error | undefined;
    this.client.on('error', (err: Error) => {
      lastError = err;
      this.log.debug({ err: err.message }, 'redis connection error');
    });
    try {
      await this.client.connect();
    } catch (err) {
      this.client.disconnect();
      const where = c.cluster?.enabled ? `cluster ${(c.cluster.nodes.length ? c.cluster.nodes : [c.endpoint]).join(',')}` : c.endpoint.replace(/\/\/[^@/]*@/, '//');
      throw new Error(`redis: cannot connect to ${where}: ${lastError?.message ?? (err as Error).message}`);
    }
    if (c.max_record_size !== undefined && c.max_record_size > 0) {
      this.limit = c.max_record_size;
      this.limitSource = 'max_record_size';
    }
    // Redis refuses any value over proto-max-bulk-len (512MB by default); read it when allowed.
    try {
      const node = this.client instanceof ioredis().Cluster ? this.client.nodes('master')[0] : this.client;
      const res = (await node?.config('GET', 'proto-max-bulk-len')) as string[] | undefined;
      const server = Number(res?.[1]);
      if (server > 0 && server < this.limit) {
        this.limit = server;
        this.limitSource = 'the server\'s proto-max-bulk-len';
      }
    } catch {
      // CONFIG is often disabled on managed Redis (ElastiCache, Memorystore): keep max_record_size.
    }
  }

  async shutdown(): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  async push(batch: RecordBatch): Promise<void> {
    const c = this.cfg;
    const ttlMs = c.ttl;
    const ttlS = Math.ceil(ttlMs / 1000);
    const failures: ItemFailure[] = [];
    const writes: Promise<unknown>[][] = [];
    const touchedSets = new Set<string>();
    const touchedDays = new Map<string, number>();
    batch.forEach((r, i) => {
      const doc = indexDocOf(r);
      const docJson = JSON.stringify(doc);
      const rrJson = c.store_rrpair ? JSON.stringify(r.rrpair) : undefined;
      const size = Buffer.byteLength(docJson) + (rrJson ? Buffer.byteLength(rrJson) : 0);
      if (size > this.limit) {
        failures.push({ index: i, retryable: false, reason: tooLargeReason('redis', size, this.limit, `the value (${this.limitSource})`) });
        writes.push([]);
        return;
      }
      const k = keysOf(c.key_prefix, doc);
      const score = tsMicros(doc.ts);
      const ops: Promise<unknown>[] = [];
      const cl = this.client;
      ops.push(rrJson ? cl.hset(k.record, 'd', docJson, 'r', rrJson) : cl.hset(k.record, 'd', docJson));
      ops.push(cl.pexpire(k.record, ttlMs));
      for (const s of k.sets) {
        ops.push(cl.zadd(s, score, doc.id));
        touchedSets.add(s);
      }
      touchedDays.set(doc.ts.slice(0, 10), dayScore(doc.ts.slice(0, 10)));
      writes.push(ops);
    });
    // Each index key expires when the newest data it points at does (every write pushes it to now + ttl).
    const tail: Promise<unknown>[] = [];
    for (const s of touchedSets) tail.push(this.client.expire(s, ttlS));
    const daysKey = `${c.key_prefix}days`;
    for (const [day, score] of touchedDays) tail.push(this.client.zadd(daysKey, score, day));
    if (touchedDays.size) tail.push(this.client.expire(daysKey, ttlS));
    const results = await Promise.all(writes.map((ops) => Promise.allSettled(ops)));
    const tailResults = await Promise.allSettled(tail);
    const tailErr = tailResults.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    results.forEach((res, i) => {
      const err = res.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (err) failures.push({ index: i, retryable: true, reason: `redis: ${(err.reason as Error)?.message ?? err.reason}` });
      // Index expiry or the day list failed: retry the batch's records so the indexes are complete.
      else if (tailErr && !failures.some((f) => f.index === i)) failures.push({ index: i, retryable: true, reason: `redis: ${(tailErr.reason as Error)?.message ?? tailErr.reason}` });
    });
    if (failures.length === batch.length && failures.every((f) => f.retryable)) {
      throw new RetryableError(failures[0]!.reason);
    }
    if (failures.length) throw new PartialFailureError(failures);
  }

  async query(filter: QueryFilter): Promise<QueryPage> {
    const f = compileFilter(filter);
    const p = this.cfg.key_prefix;
    const minUs = f.startTs ? tsMicros(f.startTs) : Number.NEGATIVE_INFINITY;
    const fromUs = f.after ? Math.max(minUs, tsMicros(f.after.ts)) : minUs;
    const maxUs = f.endTs ? tsMicros(f.endTs) : Number.POSITIVE_INFINITY;
    const firstDay = Number.isFinite(fromUs) ? Math.floor(fromUs / 1000 / DAY_MS) : '-inf';
    const lastDay = Number.isFinite(maxUs) ? Math.floor((maxUs - 1) / 1000 / DAY_MS) : '+inf';
    const days = await this.client.zrangebyscore(`${p}days`, firstDay, lastDay);
    const method = exactLiteral(filter.method);
    const status = exactLiteral(filter.status);
    const hits: QueryHit[] = [];
    let stoppedEarly = false;
    const lo = Number.isFinite(fromUs) ? String(fromUs) : '-inf';
    const hi = Number.isFinite(maxUs) ? `(${maxUs}` : '+inf';
    outer: for (const day of days) {
      // The most selective index the filter allows; the rest is filtered on the documents.
      const key =
        filter.service !== undefined ? `${p}ix:${day}:svc:${filter.service}`
        : method !== undefined ? `${p}ix:${day}:cmd:${method}`
        : status !== undefined ? `${p}ix:${day}:st:${status}`
        : `${p}ix:${day}:all`;
      for (let offset = 0; ; offset += SCAN_CHUNK) {
        const flat = await this.client.zrangebyscore(key, lo, hi, 'WITHSCORES', 'LIMIT', offset, SCAN_CHUNK);
        const ids: string[] = [];
        let lastScore = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < flat.length; i += 2) {
          ids.push(flat[i]!);
          lastScore = Number(flat[i + 1]);
        }
        const rows = await Promise.all(ids.map((id) => this.client.hmget(`${p}rr:${id}`, 'd', 'r')));
        for (const [d, r] of rows) {
          if (!d) continue; // expired ahead of its index entry
          const doc = JSON.parse(d) as IndexDoc;
          if (!f.matches(doc)) continue;
          hits.push(r ? { doc, rrpair: JSON.parse(r) as RRPair } : { doc });
        }
        if (hits.length >= f.limit) {
          hits.sort((a, b) => compareKey(a.doc, b.doc));
          // Stop once nothing later in this set can sort before the limit-th hit.
          if (lastScore > tsMicros(hits[f.limit - 1]!.doc.ts)) {
            stoppedEarly = true;
            break outer;
          }
        }
        if (ids.length < SCAN_CHUNK) break;
      }
    }
    return pageOf(hits, f.limit, stoppedEarly);
  }

  async get(id: string): Promise<RRPair | undefined> {
    const r = await this.client.hget(`${this.cfg.key_prefix}rr:${id}`, 'r');
    return r ? (JSON.parse(r) as RRPair) : undefined;
  }
}

const schema = obj({
    endpoint: address('localhost:6379', 'host:port, or a redis:// or rediss:// URL.'),
    username: str(undefined, 'ACL user name (Redis 6+).'),
    password: secret('Password (AUTH).'),
    db: int(0, 'Database number (standalone only).', { minimum: 0 }),
    tls: tlsClient('TLS to the server: on when this block is given (unless insecure: true) or the endpoint is rediss://.'),
    cluster: obj({
      enabled: bool(false, 'Connect to a Redis Cluster.'),
      nodes: strings([], 'Seed nodes (host:port); endpoint when empty.'),
    }, { description: 'Redis Cluster mode.' }),
    key_prefix: str('rrpipe:', 'Prefix of every key written.'),
    ttl: duration('7d', 'How long records and their index entries are kept.'),
    store_rrpair: bool(true, 'Keep the full RRPair next to its index document.'),
    max_record_size: bytes(undefined, 'Largest record (index document plus RRPair JSON) written; larger ones are dead-lettered. The server\'s proto-max-bulk-len applies too.'),
    connect_timeout: duration('10s', 'Time limit for connecting.'),
    ...exporterHelperProperties(),
  });

export type RedisExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<RedisExporterConfig> = {
  kind: 'exporter',
  type: 'redis',
  stability: 'alpha',
  description: 'Short-term store in Redis: index documents with a TTL and per-day sorted-set indexes; queryable.',
  schema,
  create(s) {
    const store = new RedisStore(s.config, s.configDir, s.logger);
    const helper = createExporter(s, {
      start: () => store.start(),
      push: (batch) => store.push(batch),
      shutdown: () => store.shutdown(),
    });
    return queryable(helper, store);
  },
};
