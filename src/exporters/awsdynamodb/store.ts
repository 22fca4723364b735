import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { lazyRequire } from '../../helpers/lazy-require.js';

const ddb = lazyRequire<typeof import('@aws-sdk/client-dynamodb')>('@aws-sdk/client-dynamodb');
const lib = lazyRequire<typeof import('@aws-sdk/lib-dynamodb')>('@aws-sdk/lib-dynamodb');
import type { CreateSettings } from '../../core/component.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryOptions, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { sleep } from '../../helpers/backoff.js';
import { compileFilter, exactLiteral, pageOf, tooLargeReason, type CompiledFilter } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import type { IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';
import {
  DOC, GSI_ID, GSI_STATUS, GSI_TIME, HOURS_PK, ID, PK, RRPAIR, SK, SPK, TPK,
  hourMarker, hourOf, itemOf, itemSize, sortKey, statusPk, tableDefinition, tablePk, timePk,
} from './table.js';
import type { DynamoDbExporterConfig } from './index.js';

type Item = Record<string, unknown>;

/** BatchWriteItem's limits: 25 requests, 16 MB. */
export const BATCH_ITEMS = 25;
export const BATCH_BYTES = 16 * 1024 * 1024;
/** Rounds of UnprocessedItems resent inside one push before the rest goes back to the exporter helper. */
const UNPROCESSED_ROUNDS = 4;
/** Hours read at once while a query walks its window. */
const HOUR_CONCURRENCY = 8;
/** BatchGetItem's limit. */
const BATCH_GET = 100;

const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'LimitExceededException']);
/** The SDK's own base delay for throttling errors (smithy's THROTTLING_RETRY_DELAY_BASE). */
const THROTTLING_DELAY_MS = 500;

interface SdkError {
  name?: string;
  message?: string;
  $retryable?: { throttling?: boolean };
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

/** The SDK's retry hint: `x-amz-retry-after` (ms) or `Retry-After` (s) of the response, else its throttling base delay. */
export function retryHintMs(err: SdkError): number | undefined {
  const h = err.$response?.headers ?? {};
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() === 'x-amz-retry-after' && Number.isFinite(Number(v))) return Number(v);
    if (k.toLowerCase() === 'retry-after' && Number.isFinite(Number(v))) return Number(v) * 1000;
  }
  return err.$retryable?.throttling || THROTTLING.has(err.name ?? '') ? THROTTLING_DELAY_MS : undefined;
}

/** Whether a failed call may succeed later: throttling, 5xx, connection errors, a table not (yet) there. */
export function isRetryableDynamo(err: SdkError): boolean {
  if (THROTTLING.has(err.name ?? '') || err.$retryable) return true;
  if (err.name === 'ResourceNotFoundException' || err.name === 'InternalServerError' || err.name === 'ServiceUnavailable') return true;
  const s = err.$metadata?.httpStatusCode;
  if (s === undefined) return true;
  return s >= 500 || s === 429 || s === 408;
}

export function classifyDynamo(err: unknown, what: string): Error {
  const e = err as SdkError;
  const msg = `dynamodb ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
  if (!isRetryableDynamo(e)) return new PermanentError(msg, { cause: err });
  const hint = retryHintMs(e);
  return new RetryableError(msg, { cause: err, ...(hint !== undefined ? { retryAfterMs: hint } : {}) });
}

interface Pending {
  key: string;
  item: Item;
  size: number;
  /** Batch indexes this item stands for (a replayed record twice in one batch is one item). */
  indexes: number[];
}

/**
 * Index documents (and optionally full RRPairs) in a DynamoDB table, written with BatchWriteItem
 * and read back by key-range queries per hour (see table.ts and README.md).
 */
export class DynamoStore implements QueryableStore {
  client!: DynamoDBClient;
  doc!: DynamoDBDocumentClient;

  constructor(private readonly cfg: DynamoDbExporterConfig, private readonly log: CreateSettings<unknown>['logger']) {}

  open(): void {
    const c = this.cfg;
    this.client = new (ddb().DynamoDBClient)({
      region: c.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      maxAttempts: c.max_attempts,
    });
    this.doc = lib().DynamoDBDocumentClient.from(this.client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async start(): Promise<void> {
    this.open();
    if (this.cfg.create_table) await this.ensureTable();
    if (this.cfg.configure_ttl) await this.ensureTtl();
  }

  private async ensureTable(): Promise<void> {
    const c = this.cfg;
    try {
      await this.client.send(new (ddb().CreateTableCommand)(tableDefinition(c.table_name)));
      this.log.info({ table: c.table_name }, 'dynamodb table created');
    } catch (err) {
      if ((err as SdkError).name !== 'ResourceInUseException') throw new Error(`dynamodb: cannot create table ${c.table_name}: ${(err as Error).message}`);
    }
    await ddb().waitUntilTableExists({ client: this.client, maxWaitTime: 300, minDelay: 1, maxDelay: 5 }, { TableName: c.table_name });
  }

  /** Turn on DynamoDB's TTL on the ttl attribute, so expired items are deleted by DynamoDB itself. */
  private async ensureTtl(): Promise<void> {
    const c = this.cfg;
    try {
      const d = await this.client.send(new (ddb().DescribeTimeToLiveCommand)({ TableName: c.table_name }));
      const t = d.TimeToLiveDescription;
      if ((t?.TimeToLiveStatus === 'ENABLED' || t?.TimeToLiveStatus === 'ENABLING') && t.AttributeName === c.ttl_attribute) return;
      await this.client.send(new (ddb().UpdateTimeToLiveCommand)({ TableName: c.table_name, TimeToLiveSpecification: { Enabled: true, AttributeName: c.ttl_attribute } }));
      this.log.info({ table: c.table_name, attribute: c.ttl_attribute }, 'dynamodb time to live enabled');
    } catch (err) {
      // Not allowed (a table managed elsewhere), another attribute already set, or an emulator without TTL: items still carry the attribute.
      this.log.warn({ table: c.table_name, err: `${(err as SdkError).name}: ${(err as Error).message}` }, 'dynamodb: could not enable time to live; items keep the ttl attribute');
    }
  }

  shutdown(): void {
    this.client?.destroy();
  }

  async push(batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    const c = this.cfg;
    const failures = new Map<number, ItemFailure>();
    const byKey = new Map<string, Pending>();
    const hours = new Set<string>();
    const expiresAt = Math.floor(Date.now() / 1000 + c.ttl / 1000);
    batch.forEach((r, index) => {
      let item: Item;
      let size: number;
      try {
        const doc = indexDocOf(r);
        const it = itemOf(doc, { shards: c.time_shards, ttlAttribute: c.ttl_attribute, expiresAt, ...(c.store_rrpair ? { rrpairJson: JSON.stringify(r.rrpair) } : {}) });
        size = itemSize(it);
        if (size > c.max_item_size) {
          failures.set(index, { index, retryable: false, reason: tooLargeReason('dynamodb', size, c.max_item_size, 'the item (max_item_size; DynamoDB\'s limit is 400 KB)') });
          return;
        }
        item = it;
        hours.add(hourOf(doc.ts));
      } catch (err) {
        failures.set(index, { index, retryable: false, reason: `dynamodb: cannot build the item: ${(err as Error).message}` });
        return;
      }
      const key = `${item[PK]}\u0000${item[SK]}`;
      const prev = byKey.get(key);
      if (prev) prev.indexes.push(index);
      else byKey.set(key, { key, item, size, indexes: [index] });
    });
    // Hour markers first: a record is never in the table without the marker a query finds it by.
    if (hours.size) {
      const markers = [...hours].map((h): Pending => {
        const item = hourMarker(h, c.ttl_attribute, expiresAt);
        return { key: `${HOURS_PK}\u0000${h}`, item, size: itemSize(item), indexes: [] };
      });
      const left = await this.write(markers, signal);
      if (left.length) throw left[0]!.error;
    }
    const left = await this.write([...byKey.values()], signal);
    for (const { p, error } of left) {
      const retryable = !(error instanceof PermanentError);
      for (const index of p.indexes) failures.set(index, { index, retryable, reason: error.message });
    }
    const all = [...failures.values()];
    if (!all.length) return;
    if (all.length === batch.length && all.every((f) => f.retryable)) {
      const first = left[0]?.error;
      throw first instanceof RetryableError ? first : new RetryableError(all[0]!.reason);
    }
    throw new PartialFailureError(all.sort((a, b) => a.index - b.index));
  }

  /** Write items in BatchWriteItem requests; returns those that failed, with why. */
  private async write(items: Pending[], signal?: AbortSignal): Promise<{ p: Pending; error: Error }[]> {
    const chunks: Pending[][] = [];
    let cur: Pending[] = [];
    let bytes = 0;
    for (const p of items) {
      if (cur.length && (cur.length >= BATCH_ITEMS || bytes + p.size > BATCH_BYTES)) {
        chunks.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(p);
      bytes += p.size;
    }
    if (cur.length) chunks.push(cur);
    const failed: { p: Pending; error: Error }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) failed.push(...(await this.writeChunk(chunks[next++]!, signal)));
    };
    await Promise.all(Array.from({ length: Math.min(this.cfg.concurrency, chunks.length) }, worker));
    return failed;
  }

  /**
   * One BatchWriteItem, resending UnprocessedItems (throttled items) a few rounds with backoff.
   * A request refused as invalid (an item DynamoDB measures over 400 KB) is split until the
   * refused item stands alone.
   */
  private async writeChunk(chunk: Pending[], signal?: AbortSignal): Promise<{ p: Pending; error: Error }[]> {
    const table = this.cfg.table_name;
    let pending = chunk;
    for (let round = 0; ; round++) {
      let unprocessed: Item[];
      try {
        const res = await this.doc.send(
          new (lib().BatchWriteCommand)({ RequestItems: { [table]: pending.map((p) => ({ PutRequest: { Item: p.item } })) } }),
          signal ? { abortSignal: signal } : {},
        );
        unprocessed = (res.UnprocessedItems?.[table] ?? []).map((w) => w.PutRequest?.Item).filter((x): x is Item => !!x);
      } catch (err) {
        const e = classifyDynamo(err, 'BatchWriteItem');
        if (e instanceof PermanentError && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          return [...(await this.writeChunk(pending.slice(0, half), signal)), ...(await this.writeChunk(pending.slice(half), signal))];
        }
        return pending.map((p) => ({ p, error: e }));
      }
      if (!unprocessed.length) return [];
      const keys = new Set(unprocessed.map((i) => `${i[PK]}\u0000${i[SK]}`));
      pending = pending.filter((p) => keys.has(p.key));
      if (round + 1 >= UNPROCESSED_ROUNDS) {
        const error = new RetryableError(`dynamodb BatchWriteItem: ${pending.length} item(s) left unprocessed (throttled)`, { retryAfterMs: THROTTLING_DELAY_MS });
        return pending.map((p) => ({ p, error }));
      }
      await sleep(Math.min(2000, 50 * 2 ** round * (1 + Math.random())), signal);
    }
  }

  async query(filter: QueryFilter, opts: QueryOptions = {}): Promise<QueryPage> {
    const f = compileFilter(filter);
    const signal = opts.signal;
    const fromTs = f.after && (!f.startTs || f.after.ts >= f.startTs) ? f.after.ts : f.startTs;
    const hours = await this.hoursBetween(fromTs ? hourOf(fromTs) : undefined, f.endTs ? hourOf(f.endTs) : undefined, signal);
    const lo = f.after && fromTs === f.after.ts ? sortKey(f.after.ts, f.after.id) : (f.startTs ?? '0');
    // sk = "<ts>#<id>": every sk of a ts before endTs sorts below endTs itself, every sk at or after it above.
    const hi = f.endTs ?? '~';
    const status = exactLiteral(filter.status);
    // The access path: the table key with a service, else by_status with an exact status, else by_time.
    const partitions = (hour: string): { index?: string; attr: string; value: string }[] =>
      filter.service !== undefined ? [{ attr: PK, value: tablePk(filter.service, hour) }]
      : status !== undefined && status !== '' ? [{ index: GSI_STATUS, attr: SPK, value: statusPk(status, hour) }]
      : Array.from({ length: this.cfg.time_shards }, (_, s) => ({ index: GSI_TIME, attr: TPK, value: timePk(hour, s.toString(16).padStart(2, '0')) }));
    const hits: QueryHit[] = [];
    let more = false;
    for (let i = 0; i < hours.length && hits.length < f.limit; i += HOUR_CONCURRENCY) {
      const group = hours.slice(i, i + HOUR_CONCURRENCY);
      const perHour = await Promise.all(group.map(async (hour) => {
        const parts = await Promise.all(partitions(hour).map((p) => this.readPartition(p, lo, hi, f, signal)));
        return { hits: parts.flatMap((x) => x.hits), more: parts.some((x) => x.more) };
      }));
      for (const h of perHour) {
        if (hits.length >= f.limit) {
          more = true;
          break;
        }
        hits.push(...h.hits);
        if (h.more) more = true;
      }
      if (hits.length >= f.limit && i + HOUR_CONCURRENCY < hours.length) more = true;
    }
    const page = pageOf(hits, f.limit, more);
    if (this.cfg.store_rrpair) await this.attachRRPairs(page.hits, signal);
    return page;
  }

  /** The hours holding data between two hours (inclusive; open ends are unbounded). */
  private async hoursBetween(from: string | undefined, to: string | undefined, signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let start: Item | undefined;
    do {
      const res = await this.doc.send(new (lib().QueryCommand)({
        TableName: this.cfg.table_name,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lo AND :hi',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': HOURS_PK, ':lo': from ?? '0', ':hi': to ?? '9' },
        ProjectionExpression: '#sk',
        ...(start ? { ExclusiveStartKey: start } : {}),
      }), signal ? { abortSignal: signal } : {});
      for (const it of res.Items ?? []) out.push(String(it[SK]));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** The matching hits of one partition in sk order, up to the limit. */
  private async readPartition(p: { index?: string; attr: string; value: string }, lo: string, hi: string, f: CompiledFilter, signal?: AbortSignal): Promise<{ hits: QueryHit[]; more: boolean }> {
    const hits: QueryHit[] = [];
    if (lo > hi) return { hits, more: false };
    let start: Item | undefined;
    do {
      const res = await this.doc.send(new (lib().QueryCommand)({
        TableName: this.cfg.table_name,
        ...(p.index ? { IndexName: p.index } : {}),
        KeyConditionExpression: '#k = :k AND #sk BETWEEN :lo AND :hi',
        ExpressionAttributeNames: { '#k': p.attr, '#sk': SK, '#doc': DOC },
        ExpressionAttributeValues: { ':k': p.value, ':lo': lo, ':hi': hi },
        ProjectionExpression: '#doc',
        Limit: Math.min(1000, Math.max(100, f.limit * 2)),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }), signal ? { abortSignal: signal } : {});
      for (const it of res.Items ?? []) {
        const doc = JSON.parse(String(it[DOC])) as IndexDoc;
        if (!f.matches(doc)) continue;
        hits.push({ doc });
        if (hits.length >= f.limit) return { hits, more: true };
      }
      start = res.LastEvaluatedKey;
    } while (start);
    return { hits, more: false };
  }

  /** Fill in the RRPairs of a page with BatchGetItem (the GSIs project only the doc). */
  private async attachRRPairs(hits: QueryHit[], signal?: AbortSignal): Promise<void> {
    const table = this.cfg.table_name;
    const byKey = new Map<string, QueryHit>();
    for (const h of hits) byKey.set(`${tablePk(h.doc.service, hourOf(h.doc.ts))}\u0000${sortKey(h.doc.ts, h.doc.id)}`, h);
    const keys = [...byKey.keys()].map((k) => {
      const [pk, sk] = k.split('\u0000');
      return { [PK]: pk!, [SK]: sk! };
    });
    for (let i = 0; i < keys.length; i += BATCH_GET) {
      let want: Item[] = keys.slice(i, i + BATCH_GET);
      for (let round = 0; want.length; round++) {
        const res = await this.doc.send(new (lib().BatchGetCommand)({
          RequestItems: { [table]: { Keys: want, ProjectionExpression: '#pk, #sk, #rr', ExpressionAttributeNames: { '#pk': PK, '#sk': SK, '#rr': RRPAIR } } },
        }), signal ? { abortSignal: signal } : {});
        for (const it of res.Responses?.[table] ?? []) {
          const h = byKey.get(`${it[PK]}\u0000${it[SK]}`);
          if (h && typeof it[RRPAIR] === 'string') h.rrpair = JSON.parse(it[RRPAIR]) as RRPair;
        }
        want = res.UnprocessedKeys?.[table]?.Keys ?? [];
        if (want.length) {
          if (round >= 8) throw new RetryableError(`dynamodb BatchGetItem: ${want.length} key(s) left unprocessed (throttled)`);
          await sleep(Math.min(2000, 50 * 2 ** round), signal);
        }
      }
    }
  }

  async get(id: string, opts: QueryOptions = {}): Promise<RRPair | undefined> {
    if (!this.cfg.store_rrpair) return undefined;
    const signal = opts.signal;
    const res = await this.doc.send(new (lib().QueryCommand)({
      TableName: this.cfg.table_name,
      IndexName: GSI_ID,
      KeyConditionExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': ID },
      ExpressionAttributeValues: { ':id': id },
    }), signal ? { abortSignal: signal } : {});
    const key = res.Items?.[0];
    if (!key) return undefined;
    const got = await this.doc.send(new (lib().GetCommand)({
      TableName: this.cfg.table_name,
      Key: { [PK]: key[PK], [SK]: key[SK] },
      ProjectionExpression: '#rr',
      ExpressionAttributeNames: { '#rr': RRPAIR },
    }), signal ? { abortSignal: signal } : {});
    const rr = got.Item?.[RRPAIR];
    return typeof rr === 'string' ? (JSON.parse(rr) as RRPair) : undefined;
  }
}
