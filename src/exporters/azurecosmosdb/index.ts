import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import type { Container, CosmosClient, OperationInput, SqlParameter } from '@azure/cosmos';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { ExporterFactory, CreateSettings } from '../../core/component.js';
import { bool, bytes, duration, exporterHelperProperties, int, obj, secret, str, tlsClient, type Config } from '../../config/fragments.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { azureCredential } from '../../helpers/azure-credential.js';
import { createExporter } from '../../helpers/exporter.js';
import { compileFilter, exactLiteral, pageOf, queryable, tooLargeReason } from '../../helpers/hot-store.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';

const cosmos = lazyRequire<typeof import('@azure/cosmos')>('@azure/cosmos');

/** Cosmos DB's limit on an item (https://learn.microsoft.com/azure/cosmos-db/concepts-limits). */
export const COSMOS_MAX_ITEM = 2 * 1024 * 1024;
/** Items read per round trip while a query filters in rrpipe. */
const READ_CHUNK = 500;
/** Status codes of an operation worth retrying: timeout, throttled, conflict on write, gone (split), server errors. */
const RETRYABLE_STATUS = new Set([408, 410, 429, 449, 500, 503]);
const OWN_FIELDS = new Set(['id', 'pk', 'rrid', 'x', 'rrpair', 'ttl']);

export const schema = obj({
  endpoint: str(undefined, 'Account endpoint, https://<account>.documents.azure.com:443/.'),
  key: secret('Account key. Leave unset to authenticate with Entra ID (managed_identity_id or use_azure_auth).'),
  managed_identity_id: str(undefined, '"system" or a user-assigned identity\'s client id (ManagedIdentityCredential).'),
  use_azure_auth: bool(false, 'DefaultAzureCredential: environment, AKS workload identity, managed identity, Azure CLI.'),
  database: str('rrpipe', 'Database.'),
  container: str('rrpairs', 'Container (partition key path /pk).'),
  create_container: bool(true, 'Create the database and container (partition key, TTL, indexing policy) when missing.'),
  throughput: int(undefined, 'Manual RU/s of a created container; unset: the account\'s default (serverless or shared).', { minimum: 400 }),
  ttl: duration('14d', 'Item time to live: the container\'s defaultTtl and each item\'s ttl (seconds).'),
  store_rrpair: bool(true, 'Keep the full RRPair in the item (field "rrpair", not indexed).'),
  max_item_size: bytes('2MiB', 'Largest item (Cosmos DB\'s limit, 2 MiB, is the most); larger records are dead-lettered.'),
  tls: tlsClient(),
  ...exporterHelperProperties(),
}, { required: ['endpoint'] });

export type CosmosExporterConfig = Config<typeof schema>;

/** The item id: the RRPair id with what Cosmos DB forbids (`/ \ ? #`) and `%` percent-encoded; over 255 characters, a SHA-256. */
export function itemId(id: string): string {
  const e = id.replace(/[%/\\?#]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return e.length <= 255 ? e : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/** The partition key: service and UTC day of the event, `<service>#<YYYY-MM-DD>`. */
export function partitionKey(doc: IndexDoc): string {
  return `${doc.service}#${doc.ts.slice(0, 10)}`;
}

const DAY_MS = 86_400_000;
/** The partitions of a service over a window, when the window is short enough to name them (≤ 62 days). */
function partitionsOf(service: string, startTs: string | undefined, endTs: string | undefined): string[] | undefined {
  if (!startTs || !endTs) return undefined;
  const first = Date.parse(`${startTs.slice(0, 10)}T00:00:00Z`);
  const last = Date.parse(`${endTs.slice(0, 10)}T00:00:00Z`);
  if (last - first > 62 * DAY_MS) return undefined;
  const out: string[] = [];
  for (let d = first; d <= last; d += DAY_MS) out.push(`${service}#${new Date(d).toISOString().slice(0, 10)}`);
  return out;
}

type Item = Record<string, unknown>;

function docOfItem(item: Item): IndexDoc {
  const doc: Record<string, unknown> = {};
  for (const k of INDEX_FIELDS) {
    const v = k === 'id' ? item.rrid : item[k];
    if (v !== undefined && v !== null) doc[k] = v;
  }
  const extra = item.x as Record<string, unknown> | undefined;
  if (extra) Object.assign(doc, extra);
  return doc as IndexDoc;
}

/**
 * One item per RRPair in one container, partitioned by `service#day`, upserted by id (the RRPair
 * id) in bulk: a replayed batch replaces the same items. Queries order by (ts, rrid) through a
 * composite index and filter ts, service, cluster, namespace, direction and exact-literal
 * method/status/endpoint in Cosmos DB; regexes are applied by rrpipe to the items read.
 */
export class CosmosStore implements QueryableStore {
  client!: CosmosClient;
  container!: Container;

  constructor(private readonly cfg: CosmosExporterConfig, private readonly log: CreateSettings<unknown>['logger']) {}

  /** Set when a batch got no answer at all: the next push starts on a new client (see push). */
  private stale = false;

  async start(): Promise<void> {
    this.connect();
    if (this.cfg.create_container) await this.ensureContainer();
  }

  private connect(): void {
    const c = this.cfg;
    const credential = azureCredential(c);
    const agent = c.endpoint.startsWith('https:') ? new Agent({ keepAlive: true, ...clientTlsOptions(c.tls) }) : undefined;
    this.client = new (cosmos().CosmosClient)({
      endpoint: c.endpoint,
      ...(c.key ? { key: c.key } : credential ? { aadCredentials: credential } : {}),
      ...(agent ? { agent } : {}),
      connectionPolicy: {
        // A single-region view of the account: the endpoint named is the one used.
        enableEndpointDiscovery: false,
        // Throttling (429) is the exporter helper's to retry, after the server's retry-after.
        retryOptions: { maxRetryAttemptCount: 0, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 0 },
      },
    });
    this.container = this.client.database(c.database).container(c.container);
  }

  /** The container definition rrpipe creates; the README shows the same for `az cosmosdb sql container create`. */
  containerDefinition(): import('@azure/cosmos').ContainerRequest {
    const c = this.cfg;
    return {
      id: c.container,
      partitionKey: { paths: ['/pk'] },
      defaultTtl: Math.ceil(c.ttl / 1000),
      indexingPolicy: {
        indexingMode: 'consistent',
        includedPaths: [{ path: '/*' }],
        excludedPaths: [{ path: '/rrpair/*' }, { path: '/x/*' }, { path: '/"_etag"/?' }],
        compositeIndexes: [[{ path: '/ts', order: 'ascending' }, { path: '/rrid', order: 'ascending' }]],
      },
      ...(c.throughput ? { throughput: c.throughput } : {}),
    };
  }

  private async ensureContainer(): Promise<void> {
    const c = this.cfg;
    try {
      const { database } = await this.client.databases.createIfNotExists({ id: c.database });
      await database.containers.createIfNotExists(this.containerDefinition());
      this.log.debug({ database: c.database, container: c.container }, 'cosmosdb container ready');
    } catch (err) {
      // Entra ID (RBAC) tokens may not create databases or containers (control plane): use it as it is.
      if ((err as { code?: number }).code === 403) {
        this.log.warn({ container: c.container, err: (err as Error).message }, 'cosmosdb: not allowed to create the database or container; using it as it is');
        return;
      }
      throw err;
    }
  }

  async shutdown(): Promise<void> {
    this.client?.dispose();
  }

  /** The item written for a record, or the reason it can never be written. */
  itemOf(doc: IndexDoc, rr: RRPair): Item | { tooLarge: string } {
    const c = this.cfg;
    const item: Item = { id: itemId(doc.id), pk: partitionKey(doc), rrid: doc.id };
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) {
      if (v === undefined || k === 'id') continue;
      if ((INDEX_FIELDS as readonly string[]).includes(k)) item[k] = v;
      else if (!OWN_FIELDS.has(k)) extra[k] = v;
    }
    if (Object.keys(extra).length) item.x = extra;
    if (c.store_rrpair) item.rrpair = rr;
    item.ttl = Math.ceil(c.ttl / 1000);
    const size = Buffer.byteLength(JSON.stringify(item));
    const limit = Math.min(c.max_item_size, COSMOS_MAX_ITEM);
    if (size > limit) return { tooLarge: tooLargeReason('cosmosdb', size, limit, 'the item (max_item_size)') };
    return item;
  }

  async push(batch: RecordBatch): Promise<void> {
    const failed: ItemFailure[] = [];
    const ops: OperationInput[] = [];
    const indexOf: number[] = [];
    batch.forEach((r, index) => {
      const item = this.itemOf(indexDocOf(r), r.rrpair);
      if ('tooLarge' in item) {
        failed.push({ index, retryable: false, reason: item.tooLarge as string });
        return;
      }
      ops.push({ operationType: 'Upsert', partitionKey: item.pk as string, resourceBody: item as never });
      indexOf.push(index);
    });
    let retryAfterMs: number | undefined;
    if (ops.length && this.stale) {
      // The SDK's bulk executor keeps a failed partition-key-range lookup (an outage) and fails
      // every later batch without sending it: a new client after a batch that got no answer.
      this.client.dispose();
      this.connect();
      this.stale = false;
    }
    let unanswered = 0;
    if (ops.length) {
      let results;
      try {
        results = await this.container.items.executeBulkOperations(ops);
      } catch (err) {
        this.stale = true;
        throw this.requestError(err);
      }
      results.forEach((res, i) => {
        // A result is {operationInput, response} or {operationInput, error}; when the request
        // failed before any answer, the SDK hands back the bare error ({code, diagnostics}).
        const error = (res.error ?? (res.response ? undefined : res)) as { code?: number | string; message?: string; retryAfterInMs?: number } | undefined;
        const status = res.response?.statusCode ?? Number(error?.code);
        if (status >= 200 && status < 300) return;
        if (!res.response) unanswered++;
        const wait = error?.retryAfterInMs;
        if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
        // No HTTP status (a connection reset or refused: code ECONNRESET…) is retried too.
        const retryable = !Number.isFinite(status) || status === 0 || RETRYABLE_STATUS.has(status);
        const what = status === 429 ? 'throttled (429)' : Number.isFinite(status) ? `status ${status}` : String(error?.code ?? 'no answer');
        failed.push({ index: indexOf[i]!, retryable, reason: `cosmosdb: ${what}${error?.message ? `: ${error.message.split('\n')[0]}` : ''}` });
      });
      if (unanswered === ops.length) this.stale = true;
    }
    if (failed.length === batch.length && failed.every((f) => f.retryable)) throw new RetryableError(failed[0]!.reason, retryAfterMs !== undefined ? { retryAfterMs } : {});
    if (failed.length === batch.length && new Set(failed.map((f) => f.reason)).size === 1) throw new PermanentError(failed[0]!.reason);
    if (failed.length) throw new PartialFailureError(failed);
  }

  private requestError(err: unknown): Error {
    const e = err as { code?: number | string; retryAfterInMs?: number; message?: string };
    const status = Number(e.code);
    const msg = `cosmosdb: ${e.message ?? String(err)}`;
    if (status === 401 || status === 403 || status === 404 || status === 400) return new PermanentError(msg, { cause: err });
    return new RetryableError(msg, { cause: err, ...(e.retryAfterInMs !== undefined ? { retryAfterMs: e.retryAfterInMs } : {}) });
  }

  /** The SQL of a filter (what Cosmos DB can filter), in (ts, rrid) order. */
  sqlOf(f: ReturnType<typeof compileFilter>, top: number, after?: { ts: string; id: string }): { query: string; parameters: SqlParameter[] } {
    const where: string[] = [];
    const parameters: SqlParameter[] = [];
    const p = (v: string): string => {
      parameters.push({ name: `@p${parameters.length}`, value: v });
      return `@p${parameters.length - 1}`;
    };
    const flt = f.filter;
    if (flt.service !== undefined) {
      const pks = partitionsOf(flt.service, f.startTs, f.endTs);
      if (pks) where.push(`c.pk IN (${pks.map(p).join(', ')})`);
      where.push(`c.service = ${p(flt.service)}`);
    }
    if (f.startTs) where.push(`c.ts >= ${p(f.startTs)}`);
    if (f.endTs) where.push(`c.ts < ${p(f.endTs)}`);
    for (const k of ['cluster', 'namespace', 'direction'] as const) if (flt[k] !== undefined) where.push(`c.${k} = ${p(flt[k]!)}`);
    if (flt.protocol !== undefined) where.push(`c.l7protocol = ${p(flt.protocol)}`);
    for (const [k, re] of [['command', flt.method], ['status', flt.status], ['location', flt.endpoint]] as const) {
      const lit = exactLiteral(re);
      if (lit !== undefined) where.push(`c.${k} = ${p(lit)}`);
    }
    if (after) {
      const ts = p(after.ts);
      where.push(`(c.ts > ${ts} OR (c.ts = ${ts} AND c.rrid > ${p(after.id)}))`);
    }
    return { query: `SELECT TOP ${top} * FROM c${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY c.ts, c.rrid`, parameters };
  }

  async query(filter: QueryFilter): Promise<QueryPage> {
    const f = compileFilter(filter);
    const hits: QueryHit[] = [];
    const chunk = Math.min(Math.max(f.limit + 1, 50), READ_CHUNK);
    let after = f.after;
    for (;;) {
      const { resources } = await this.container.items.query<Item>(this.sqlOf(f, chunk, after), { maxItemCount: chunk }).fetchAll();
      for (const item of resources) {
        const doc = docOfItem(item);
        if (!f.matches(doc)) continue;
        hits.push(item.rrpair !== undefined ? { doc, rrpair: item.rrpair as RRPair } : { doc });
        if (hits.length > f.limit) return pageOf(hits, f.limit, true);
      }
      if (resources.length < chunk) return pageOf(hits, f.limit, false);
      const last = resources[resources.length - 1]!;
      after = { ts: last.ts as string, id: last.rrid as string };
    }
  }

  async get(id: string): Promise<RRPair | undefined> {
    const { resources } = await this.container.items.query<Item>({ query: 'SELECT TOP 1 c.rrpair FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: itemId(id) }] }).fetchAll();
    return resources[0]?.rrpair as RRPair | undefined;
  }
}

export const factory: ExporterFactory<CosmosExporterConfig> = {
  kind: 'exporter',
  type: 'azurecosmosdb',
  stability: 'alpha',
  description: 'Short-term store in Azure Cosmos DB (NoSQL): one item per RRPair, partition key service#day, ttl, bulk upserts; queryable.',
  schema,
  validate(c) {
    const auth = [c.key ? 1 : 0, c.managed_identity_id ? 1 : 0, c.use_azure_auth ? 1 : 0].reduce((a, b) => a + b, 0);
    return auth === 1 ? [] : [{ message: 'set exactly one of key, managed_identity_id, use_azure_auth' }];
  },
  create(s) {
    const store = new CosmosStore(s.config, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b) => store.push(b), shutdown: () => store.shutdown() }), store);
  },
};
