import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Client, KustoConnectionStringBuilder } from 'azure-kusto-data';
import type { IngestClient, ManagedStreamingIngestClient } from 'azure-kusto-ingest';
import { lazyRequire } from '../../helpers/lazy-require.js';
import { azureCredential } from '../../helpers/azure-credential.js';
import type { ExporterFactory, CreateSettings } from '../../core/component.js';
import { bool, bytes, duration, exporterHelperProperties, obj, oneOf, secret, str, type Config } from '../../config/fragments.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import { emptyAggregates, SORT_FIELDS, type AggregateSpec, type Aggregates, type QueryFilter, type QueryHit, type QueryPage, type QueryableStore, type SortField, type SortSpec, type SortedPage } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { createExporter } from '../../helpers/exporter.js';
import { compileFilter, pageOf, queryable, tooLargeReason } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';
import { quoteName, schemaCommands } from './schema.js';

const kustoData = lazyRequire<typeof import('azure-kusto-data')>('azure-kusto-data');
const kustoIngest = lazyRequire<typeof import('azure-kusto-ingest')>('azure-kusto-ingest');

/** `system` for a system-assigned identity, or a client id. */
function connectionBuilder(c: AdxExporterConfig, uri: string): KustoConnectionStringBuilder {
  if (c.application_id && c.application_key) return kustoData().KustoConnectionStringBuilder.withAadApplicationKeyAuthentication(uri, c.application_id, c.application_key, c.tenant_id);
  // The one Entra ID credential every Azure component builds (src/helpers/azure-credential.ts):
  // managed identity (system or user-assigned), or DefaultAzureCredential (AKS workload identity,
  // environment, managed identity, Azure CLI).
  const credential = azureCredential(c);
  if (credential) return kustoData().KustoConnectionStringBuilder.withTokenCredential(uri, credential);
  throw new PermanentError('azuredataexplorer: no credentials: set application_id/application_key/tenant_id, managed_identity_id, or use_azure_auth');
}

export function ingestUriOf(c: Pick<AdxExporterConfig, 'cluster_uri' | 'ingest_uri'>): string {
  if (c.ingest_uri) return c.ingest_uri;
  const u = new URL(c.cluster_uri);
  u.hostname = `ingest-${u.hostname}`;
  return u.toString().replace(/\/$/, '');
}

/** The JSON line ingested for a record: the index fields, the exact ts, and the RRPair. */
export function rowOf(doc: IndexDoc, rr: RRPair): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const f of INDEX_FIELDS) row[f] = doc[f] ?? (f === 'archive_uri' ? '' : null);
  row.ts_text = doc.ts;
  row.rrpair = rr;
  return row;
}

function docOfRow(row: Record<string, unknown>): IndexDoc {
  const doc: Record<string, unknown> = {};
  for (const f of INDEX_FIELDS) {
    const v = row[f];
    if (f === 'ts') doc.ts = row.ts_text;
    else if (f === 'archive_uri') {
      if (typeof v === 'string' && v !== '') doc.archive_uri = v;
    } else doc[f] = v;
  }
  return doc as IndexDoc;
}

/** The RRPair a row holds (the dynamic column comes as JSON text or as the object). */
function rrpairOfRow(o: Record<string, unknown>): RRPair | undefined {
  return typeof o.rrpair === 'string' ? (JSON.parse(o.rrpair) as RRPair) : (o.rrpair as RRPair | undefined);
}

/**
 * A datetime query parameter's value: a KQL datetime literal (values of types other than string
 * and long travel as literals: learn.microsoft.com/kusto/api/netfx/request-properties), cut to
 * the 100 ns ticks a datetime holds.
 */
export function datetimeLiteral(ts: string): string {
  return `datetime(${ts.replace(/(\.\d{7})\d+/, '$1')})`;
}

/** Query parameters, declared with their types; values never spliced into the KQL text. */
class KqlParams {
  readonly values: Record<string, string> = {};
  private readonly decl: string[] = [];
  add(name: string, type: string, value: string): void {
    this.values[name] = value;
    this.decl.push(`${name}:${type}`);
  }
  declaration(): string[] {
    return this.decl.length ? [`declare query_parameters(${this.decl.join(', ')});`] : [];
  }
}

/** The filter's `where` lines, and the deduplication every answer starts from. */
function matching(table: string, f: ReturnType<typeof compileFilter>, p: KqlParams): string[] {
  const where: string[] = [];
  const flt = f.filter;
  if (f.startTs) { p.add('p_start', 'datetime', datetimeLiteral(f.startTs)); where.push('ts >= p_start'); }
  if (f.endTs) { p.add('p_end', 'datetime', datetimeLiteral(f.endTs)); where.push('ts < p_end'); }
  for (const k of ['cluster', 'namespace', 'service', 'direction'] as const) {
    if (flt[k] !== undefined) { p.add(`p_${k}`, 'string', flt[k]!); where.push(`${k} == p_${k}`); }
  }
  if (flt.protocol !== undefined) { p.add('p_protocol', 'string', flt.protocol); where.push('l7protocol == p_protocol'); }
  if (flt.method) { p.add('p_method', 'string', flt.method); where.push('command matches regex p_method'); }
  if (flt.status) { p.add('p_status', 'string', flt.status); where.push('status matches regex p_status'); }
  if (flt.endpoint) { p.add('p_endpoint', 'string', flt.endpoint); where.push('location matches regex p_endpoint'); }
  if (f.after) {
    p.add('p_after_ts', 'string', f.after.ts);
    p.add('p_after_id', 'string', f.after.id);
    where.push('(ts_text > p_after_ts or (ts_text == p_after_ts and id > p_after_id))');
  }
  return [
    quoteName(table),
    ...where.map((w) => `| where ${w}`),
    // A batch ingested twice (a retry after a lost answer) holds the same ids: keep one row per id.
    '| summarize arg_max(ingestion_time(), *) by id',
  ];
}

/** The KQL `rrpipe query` runs; values travel as query parameters, never spliced into the text. */
export function buildQuery(table: string, f: ReturnType<typeof compileFilter>): { kql: string; params: Record<string, string> } {
  const p = new KqlParams();
  const body = matching(table, f, p);
  const lines = [...p.declaration(), ...body, '| project-away max_ingestion_time', '| order by ts_text asc, id asc', `| take ${f.limit + 1}`];
  return { kql: lines.join('\n'), params: p.values };
}

/**
 * isErrorStatus (core/query.ts) in KQL: an HTTP code of 500 or more, or a status name other than
 * ok/success in any case; empty is no error.
 */
const IS_ERROR = "| extend err = iff(status matches regex @'^[0-9]+$', todouble(status) >= 500, isnotempty(status) and not(status =~ 'ok' or status =~ 'success'))";
/** What aggregate() asks for, by what it counts: calls and errors per histogram bucket or per group. */
const BY_BUCKET = '| summarize calls = count(), errors = countif(err) by b = tolong(floor((ts - p_hstart) / 1ms / p_step, 1))';
const BY_GROUP = '| summarize calls = count(), errors = countif(err) by service, direction, host, l7protocol';

/** The most rows one sorted page returns. */
const MAX_SORTED_ROWS = 10_000;

/**
 * What sortedPage() orders by, per field, as the scan compares (core/query.ts sortedPageByScan):
 * a missing number as 0, ts by its exact text (nanoseconds).
 */
const SORT_KEY: Record<SortField, string> = {
  ts: 'ts_text', service: 'service', direction: 'direction', command: 'command', location: 'location', status: 'status',
  duration: 'coalesce(duration, 0.0)', req_size: 'coalesce(req_size, long(0))', res_size: 'coalesce(res_size, long(0))',
};

/** The KQL of sortedPage(): the deduplicated matches ordered by the field (ties by ts, id), rows offset+1 .. offset+limit. */
export function buildSortedPage(table: string, f: ReturnType<typeof compileFilter>, sort: SortSpec): { kql: string; params: Record<string, string> } {
  if (!(SORT_FIELDS as readonly string[]).includes(sort.field)) throw new Error(`cannot sort by ${sort.field}`);
  const p = new KqlParams();
  const body = matching(table, f, p);
  const offset = Math.max(0, Math.floor(sort.offset));
  p.add('p_first', 'long', String(offset));
  p.add('p_last', 'long', String(offset + Math.min(Math.max(0, Math.floor(sort.limit)), MAX_SORTED_ROWS)));
  const tail = [
    '| project-away max_ingestion_time',
    `| order by ${SORT_KEY[sort.field]} ${sort.desc ? 'desc' : 'asc'}, ts_text asc, id asc`,
    '| extend rn = row_number()',
    '| where rn > p_first and rn <= p_last',
  ];
  return { kql: [...p.declaration(), ...body, ...tail].join('\n'), params: p.values };
}

/** The KQL of aggregate(): one query per kind of count asked for, each over the deduplicated matches. */
export function buildAggregate(table: string, f: ReturnType<typeof compileFilter>, kind: 'histogram' | 'groups' | 'count', h?: NonNullable<AggregateSpec['histogram']>): { kql: string; params: Record<string, string> } {
  const p = new KqlParams();
  const body = matching(table, f, p);
  if (kind === 'histogram') {
    p.add('p_hstart', 'datetime', datetimeLiteral(new Date(h!.start).toISOString()));
    p.add('p_step', 'long', String(h!.stepMs));
  }
  const tail = kind === 'count' ? ['| count'] : [IS_ERROR, kind === 'histogram' ? BY_BUCKET : BY_GROUP];
  return { kql: [...p.declaration(), ...body, ...tail].join('\n'), params: p.values };
}

export class AdxStore implements QueryableStore {
  private query_!: Client;
  private ingest!: IngestClient | ManagedStreamingIngestClient;

  constructor(private readonly cfg: AdxExporterConfig, private readonly log: CreateSettings<unknown>['logger'], private readonly builders?: (uri: string) => KustoConnectionStringBuilder) {}

  async start(): Promise<void> {
    const c = this.cfg;
    const kcsb = (uri: string) => (this.builders ? this.builders(uri) : connectionBuilder(c, uri));
    this.query_ = new (kustoData().Client)(kcsb(c.cluster_uri));
    const props = { database: c.db_name, table: c.logs_table_name, format: kustoIngest().DataFormat.MULTIJSON, ingestionMappingReference: c.logs_table_json_mapping };
    this.ingest = c.ingestion_type === 'managed'
      ? new (kustoIngest().ManagedStreamingIngestClient)(kcsb(c.cluster_uri), kcsb(ingestUriOf(c)), props, false)
      : new (kustoIngest().IngestClient)(kcsb(ingestUriOf(c)), props, false);
    if (c.create_schema) await this.ensureSchema();
  }

  async ensureSchema(): Promise<void> {
    const c = this.cfg;
    for (const cmd of schemaCommands({ table: c.logs_table_name, mapping: c.logs_table_json_mapping, retentionMs: c.retention, streaming: c.ingestion_type === 'managed' })) {
      try {
        await this.query_.executeMgmt(c.db_name, cmd);
      } catch (err) {
        // Forbidden: an admin runs `rrpipe adx-schema`'s commands instead.
        this.log.warn({ command: cmd.split(' ').slice(0, 3).join(' '), err: (err as Error).message }, 'azuredataexplorer: could not run a schema command; run `rrpipe adx-schema` as an admin');
      }
    }
  }

  async shutdown(): Promise<void> {
    await this.ingest?.close();
    this.query_?.close();
  }

  async push(batch: RecordBatch): Promise<void> {
    const failures: ItemFailure[] = [];
    const lines: string[] = [];
    const ids: string[] = [];
    batch.forEach((r, index) => {
      const doc = indexDocOf(r);
      const line = JSON.stringify(rowOf(doc, r.rrpair));
      const n = Buffer.byteLength(line);
      if (n > this.cfg.max_record_size) {
        failures.push({ index, retryable: false, reason: tooLargeReason('azuredataexplorer', n, this.cfg.max_record_size, 'the row (max_record_size)') });
        return;
      }
      lines.push(line);
      ids.push(doc.id);
    });
    if (lines.length) {
      // The same records always make the same tag: a queued batch retried after a lost answer is dropped by ADX.
      const tag = `rrpipe-${createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32)}`;
      const props = new (kustoIngest().IngestionProperties)({
        database: this.cfg.db_name, table: this.cfg.logs_table_name, format: kustoIngest().DataFormat.MULTIJSON,
        ingestionMappingReference: this.cfg.logs_table_json_mapping,
        ...(this.cfg.ingestion_type === 'queued' ? { ingestByTags: [tag], ingestIfNotExists: JSON.stringify([tag]) } : {}),
      });
      try {
        await this.ingest.ingestFromStream(Readable.from([Buffer.from(lines.join('\n'))]), props);
      } catch (err) {
        const status = (err as { response?: { status?: number } }).response?.status ?? (err as { statusCode?: number }).statusCode;
        const msg = `azuredataexplorer: ${(err as Error).message}`;
        if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
          if (!failures.length) throw new PermanentError(msg, { cause: err });
          batch.forEach((_, index) => failures.some((f) => f.index === index) || failures.push({ index, retryable: false, reason: msg }));
        } else {
          if (!failures.length) throw new RetryableError(msg, { cause: err });
          batch.forEach((_, index) => failures.some((f) => f.index === index) || failures.push({ index, retryable: true, reason: msg }));
        }
      }
    }
    if (failures.length) throw new PartialFailureError(failures);
  }

  async query(filter: QueryFilter): Promise<QueryPage> {
    const f = compileFilter(filter);
    const hits: QueryHit[] = [];
    for (const o of await this.rows(buildQuery(this.cfg.logs_table_name, f))) {
      const rr = rrpairOfRow(o);
      const doc = docOfRow(o);
      if (!f.matches(doc)) continue; // the regex dialects differ (RE2 vs JS): JS has the last word
      hits.push(rr ? { doc, rrpair: rr } : { doc });
    }
    return pageOf(hits, f.limit, hits.length > f.limit);
  }

  /**
   * Counts computed by Kusto (`summarize … by`) over the matches deduplicated by id, as query()
   * returns them: histogram buckets as the scan's bucketOf cuts them (before the start in the
   * first, past the end in the last), errors by isErrorStatus's rule. Regex filters are Kusto's
   * `matches regex` (RE2), as the embedded store's are RE2.
   */
  async aggregate(filter: QueryFilter, spec: AggregateSpec): Promise<Aggregates> {
    const f = compileFilter(filter);
    const out = emptyAggregates(spec);
    const table = this.cfg.logs_table_name;
    await Promise.all([
      spec.histogram && this.rows(buildAggregate(table, f, 'histogram', spec.histogram)).then((rs) => {
        const h = spec.histogram!;
        for (const r of rs) {
          const i = Math.min(h.buckets - 1, Math.max(0, Number(r.b)));
          out.histogram!.counts[i]! += Number(r.calls);
          out.histogram!.errors[i]! += Number(r.errors);
        }
        out.total = out.histogram!.counts.reduce((a, b) => a + b, 0);
      }),
      spec.groups && this.rows(buildAggregate(table, f, 'groups')).then((rs) => {
        out.groups = rs.map((r) => ({ service: String(r.service ?? ''), direction: String(r.direction ?? ''), host: String(r.host ?? ''), l7protocol: String(r.l7protocol ?? ''), calls: Number(r.calls), errors: Number(r.errors) }));
        out.total = out.groups.reduce((a, g) => a + g.calls, 0);
      }),
      !spec.histogram && !spec.groups && this.rows(buildAggregate(table, f, 'count')).then((rs) => {
        out.total = Number(rs[0]?.Count ?? 0);
      }),
    ]);
    return out;
  }

  /** A page of the matches ordered by Kusto (`order by`, then `row_number()`), and how many match. */
  async sortedPage(filter: QueryFilter, sort: SortSpec): Promise<SortedPage> {
    const f = compileFilter(filter);
    const table = this.cfg.logs_table_name;
    const [rows, count] = await Promise.all([this.rows(buildSortedPage(table, f, sort)), this.rows(buildAggregate(table, f, 'count'))]);
    return { rows: rows.map(docOfRow), total: Number(count[0]?.Count ?? 0) };
  }

  /** Runs one query with its parameters; its primary result's rows as objects. */
  private async rows(q: { kql: string; params: Record<string, string> }): Promise<Record<string, unknown>[]> {
    const props = new (kustoData().ClientRequestProperties)();
    for (const [k, v] of Object.entries(q.params)) props.setParameter(k, v);
    const res = await this.query_.execute(this.cfg.db_name, q.kql, props);
    return (res.primaryResults[0] ? [...res.primaryResults[0].rows()] : []).map((r) => r.toJSON<Record<string, unknown>>());
  }

  async get(id: string): Promise<RRPair | undefined> {
    const [o] = await this.rows({ kql: `declare query_parameters(p_id:string);\n${quoteName(this.cfg.logs_table_name)}\n| where id == p_id\n| take 1`, params: { p_id: id } });
    return o ? rrpairOfRow(o) : undefined;
  }
}

const schema = obj({
  cluster_uri: str(undefined, 'Cluster URI, https://<cluster>.<region>.kusto.windows.net.'),
  ingest_uri: str(undefined, 'Ingestion URI; https://ingest-<cluster>… when unset.'),
  db_name: str('rrpipe', 'Database.'),
  logs_table_name: str('RRPairs', 'Table.'),
  logs_table_json_mapping: str('rrpair_mapping', 'JSON ingestion mapping name.'),
  ingestion_type: oneOf(['queued', 'managed'], 'queued', 'queued: blob + queue, batched by ADX. managed: streaming, falling back to queued.'),
  application_id: str(undefined, 'Entra ID application (client) id.'),
  application_key: secret('Application secret.'),
  tenant_id: str(undefined, 'Tenant id.'),
  managed_identity_id: str(undefined, '"system" or a user-assigned identity\'s client id.'),
  use_azure_auth: bool(false, 'Use the Azure CLI login / default credential chain (AKS workload identity).'),
  create_schema: bool(true, 'Run the table, mapping and retention commands at start (needs table admin; else warns).'),
  retention: duration('14d', 'Retention policy (soft delete period).'),
  max_record_size: bytes('4MiB', 'Largest ingested row; larger records are dead-lettered.'),
  ...exporterHelperProperties(),
}, { required: ['cluster_uri'] });

export type AdxExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<AdxExporterConfig> = {
  kind: 'exporter',
  type: 'azuredataexplorer',
  stability: 'alpha',
  description: 'Short-term store in Azure Data Explorer (Kusto): queued or managed (streaming) ingestion, KQL queries.',
  schema,
  validate(c) {
    const auth = [c.application_id || c.application_key ? 1 : 0, c.managed_identity_id ? 1 : 0, c.use_azure_auth ? 1 : 0].reduce((a, b) => a + b, 0);
    const problems = [];
    if (auth !== 1) problems.push({ message: 'set exactly one of application_id/application_key/tenant_id, managed_identity_id, use_azure_auth' });
    if ((c.application_id && !c.application_key) || (!c.application_id && c.application_key)) problems.push({ path: ['application_key'], message: 'application_id and application_key go together' });
    return problems;
  },
  create(s) {
    const store = new AdxStore(s.config, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b) => store.push(b), shutdown: () => store.shutdown() }), store);
  },
};
