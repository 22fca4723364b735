import type { TimestreamWriteClient, _Record } from '@aws-sdk/client-timestream-write';
import type { TimestreamQueryClient, QueryCommandOutput } from '@aws-sdk/client-timestream-query';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { CreateSettings } from '../../core/component.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryOptions, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { compileFilter, pageOf, tooLargeReason } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { DiscoveredEndpoint } from './discovery.js';
import { classifyTimestream, type SdkError } from './errors.js';
import { MAX_RECORD_BYTES, WRITE_RECORDS, docOfRow, recordOf } from './records.js';
import { selectOf } from './sql.js';
import type { TimestreamExporterConfig } from './index.js';

const tsw = lazyRequire<typeof import('@aws-sdk/client-timestream-write')>('@aws-sdk/client-timestream-write');
const tsq = lazyRequire<typeof import('@aws-sdk/client-timestream-query')>('@aws-sdk/client-timestream-query');

/** Rows asked per Query page. */
const MAX_ROWS = 1000;

interface Pending {
  record: _Record;
  /** Batch indexes this record stands for (a record replayed twice in one batch is one record). */
  indexes: number[];
}

/** One rejected record of a WriteRecords call (RejectedRecordsException). */
interface Rejected {
  RecordIndex?: number;
  Reason?: string;
  ExistingVersion?: number;
}

/**
 * Index documents as multi-measure records in a Timestream for LiveAnalytics table, written with
 * WriteRecords (100 a call) and read back with SQL (see README.md).
 */
export class TimestreamStore implements QueryableStore {
  private write?: DiscoveredEndpoint<TimestreamWriteClient>;
  private read?: DiscoveredEndpoint<TimestreamQueryClient>;

  constructor(private readonly cfg: TimestreamExporterConfig, private readonly log: CreateSettings<unknown>['logger']) {}

  private base() {
    const c = this.cfg;
    return { region: c.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1', maxAttempts: c.max_attempts };
  }

  open(): void {
    const c = this.cfg;
    // Without an endpoint the SDK discovers the cell endpoint itself; with one (a VPC endpoint,
    // a test server) rrpipe asks it DescribeEndpoints and sends the data calls where it says.
    this.write = new DiscoveredEndpoint(c.endpoint, (endpoint) => new (tsw().TimestreamWriteClient)({ ...this.base(), ...(endpoint ? { endpoint } : {}) }), (client) => client.send(new (tsw().DescribeEndpointsCommand)({})));
    this.read = new DiscoveredEndpoint(c.query_endpoint ?? c.endpoint, (endpoint) => new (tsq().TimestreamQueryClient)({ ...this.base(), ...(endpoint ? { endpoint } : {}) }), (client) => client.send(new (tsq().DescribeEndpointsCommand)({})));
  }

  async start(): Promise<void> {
    this.open();
    if (this.cfg.create_table) await this.ensureTable();
  }

  shutdown(): void {
    this.write?.destroy();
    this.read?.destroy();
  }

  /** The database and table, created with the configured retention when missing. */
  private async ensureTable(): Promise<void> {
    const c = this.cfg;
    const client = await this.write!.client();
    const retention = {
      MemoryStoreRetentionPeriodInHours: Math.max(1, Math.ceil(c.memory_store_retention / 3_600_000)),
      MagneticStoreRetentionPeriodInDays: Math.max(1, Math.ceil(c.magnetic_store_retention / 86_400_000)),
    };
    try {
      const d = await client.send(new (tsw().DescribeTableCommand)({ DatabaseName: c.database, TableName: c.table }));
      const r = d.Table?.RetentionProperties;
      if (r && (r.MemoryStoreRetentionPeriodInHours !== retention.MemoryStoreRetentionPeriodInHours || r.MagneticStoreRetentionPeriodInDays !== retention.MagneticStoreRetentionPeriodInDays)) {
        this.log.warn({ table: c.table, has: r, configured: retention }, 'timestream: the table exists with another retention; it is left as it is');
      }
      return;
    } catch (err) {
      if ((err as SdkError).name !== 'ResourceNotFoundException') throw new Error(`timestream: cannot describe table ${c.database}.${c.table}: ${(err as Error).message}`);
    }
    try {
      await client.send(new (tsw().CreateDatabaseCommand)({ DatabaseName: c.database }));
    } catch (err) {
      if ((err as SdkError).name !== 'ConflictException') throw new Error(`timestream: cannot create database ${c.database}: ${(err as Error).message}`);
    }
    try {
      await client.send(new (tsw().CreateTableCommand)({
        DatabaseName: c.database,
        TableName: c.table,
        RetentionProperties: retention,
        // Records older than the memory store's retention (a backfill, a rehydrate) go to the magnetic store.
        MagneticStoreWriteProperties: { EnableMagneticStoreWrites: c.magnetic_store_writes },
      }));
      this.log.info({ database: c.database, table: c.table, retention }, 'timestream table created');
    } catch (err) {
      if ((err as SdkError).name !== 'ConflictException') throw new Error(`timestream: cannot create table ${c.database}.${c.table}: ${(err as Error).message}`);
    }
  }

  async push(batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    const failures = new Map<number, ItemFailure>();
    const byKey = new Map<string, Pending>();
    batch.forEach((r, index) => {
      try {
        const doc = indexDocOf(r);
        const { record, bytes, problem } = recordOf(doc);
        if (problem) return void failures.set(index, { index, retryable: false, reason: `record too large for timestream: ${problem}` });
        if (bytes > this.cfg.max_record_size) return void failures.set(index, { index, retryable: false, reason: tooLargeReason('timestream', bytes, this.cfg.max_record_size, `the record (max_record_size; Timestream's limit is ${MAX_RECORD_BYTES} bytes)`) });
        const key = `${doc.id}\u0000${record.Time}`;
        const prev = byKey.get(key);
        if (prev) prev.indexes.push(index);
        else byKey.set(key, { record, indexes: [index] });
      } catch (err) {
        failures.set(index, { index, retryable: false, reason: `timestream: cannot build the record: ${(err as Error).message}` });
      }
    });
    const pending = [...byKey.values()];
    const chunks: Pending[][] = [];
    for (let i = 0; i < pending.length; i += WRITE_RECORDS) chunks.push(pending.slice(i, i + WRITE_RECORDS));
    let firstError: Error | undefined;
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        for (const { p, error } of await this.writeChunk(chunk, signal)) {
          firstError ??= error;
          const retryable = !(error instanceof PermanentError);
          for (const index of p.indexes) failures.set(index, { index, retryable, reason: error.message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.cfg.concurrency, chunks.length) }, worker));
    const all = [...failures.values()];
    if (!all.length) return;
    if (all.length === batch.length && all.every((f) => f.retryable)) throw firstError instanceof RetryableError ? firstError : new RetryableError(all[0]!.reason);
    throw new PartialFailureError(all.sort((a, b) => a.index - b.index));
  }

  /**
   * One WriteRecords call. Timestream writes every record of the call it does not reject: a
   * rejected record is a version conflict (a newer version is there: already written) or invalid
   * (dead-lettered with Timestream's reason).
   */
  private async writeChunk(chunk: Pending[], signal?: AbortSignal): Promise<{ p: Pending; error: Error }[]> {
    const c = this.cfg;
    try {
      const client = await this.write!.client();
      await client.send(new (tsw().WriteRecordsCommand)({ DatabaseName: c.database, TableName: c.table, Records: chunk.map((p) => p.record) }), signal ? { abortSignal: signal } : {});
      return [];
    } catch (err) {
      const e = err as SdkError & { RejectedRecords?: Rejected[] };
      if (e.name === 'RejectedRecordsException' && Array.isArray(e.RejectedRecords)) {
        const out: { p: Pending; error: Error }[] = [];
        for (const r of e.RejectedRecords) {
          const p = r.RecordIndex !== undefined ? chunk[r.RecordIndex] : undefined;
          if (!p) continue;
          if (r.ExistingVersion !== undefined && r.ExistingVersion >= (p.record.Version ?? 1)) continue;
          out.push({ p, error: new PermanentError(`timestream rejected the record: ${r.Reason ?? 'no reason given'}`) });
        }
        return out;
      }
      if (e.name === 'ResourceNotFoundException' || e.name === 'InvalidEndpointException') this.write!.forget();
      const error = classifyTimestream(err, 'WriteRecords');
      if (error instanceof PermanentError && chunk.length > 1) {
        // A call refused whole (ValidationException): split until the refused record stands alone.
        const half = Math.ceil(chunk.length / 2);
        return [...(await this.writeChunk(chunk.slice(0, half), signal)), ...(await this.writeChunk(chunk.slice(half), signal))];
      }
      return chunk.map((p) => ({ p, error }));
    }
  }

  async query(filter: QueryFilter, opts: QueryOptions = {}): Promise<QueryPage> {
    const f = compileFilter(filter);
    const probe = selectOf(this.cfg.database, this.cfg.table, f);
    // Without a regex left for rrpipe, the SQL's LIMIT is exact: one more row tells whether a next page exists.
    const { sql } = probe.postFiltered ? probe : selectOf(this.cfg.database, this.cfg.table, f, f.limit + 1);
    const hits: QueryHit[] = [];
    let token: string | undefined;
    let more = false;
    try {
      const client = await this.read!.client();
      do {
        const res: QueryCommandOutput = await client.send(new (tsq().QueryCommand)({ QueryString: sql, MaxRows: MAX_ROWS, ...(token ? { NextToken: token } : {}) }), opts.signal ? { abortSignal: opts.signal } : {});
        const names = (res.ColumnInfo ?? []).map((c) => c.Name ?? '');
        for (const row of res.Rows ?? []) {
          const byName: Record<string, string | undefined> = {};
          (row.Data ?? []).forEach((d, i) => {
            byName[names[i]!] = d.NullValue ? undefined : d.ScalarValue;
          });
          const doc = docOfRow(byName);
          if (!f.matches(doc)) continue;
          hits.push({ doc });
        }
        token = res.NextToken;
        if (hits.length > f.limit) {
          more = true;
          break;
        }
      } while (token);
    } catch (err) {
      // A column no record has written yet (a filter on a field always empty) matches nothing.
      if ((err as SdkError).name === 'ValidationException' && /column .* does not exist/i.test((err as Error).message)) return { hits: [] };
      throw classifyTimestream(err, 'Query');
    }
    return pageOf(hits, f.limit, more);
  }
}
