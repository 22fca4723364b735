/**
 * What the opensearch and elasticsearch exporters share: the config schema, the document shape
 * (mapping.mode rrpipe | otel), index naming, the index template and retention policy bodies,
 * bulk chunking and per-item result reading, and QueryFilter → query DSL. Each exporter supplies
 * an EngineClient built on its official client.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CreateSettings, ExporterFactory, Host, JSONSchema } from '../core/component.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../core/errors.js';
import { decodeAfter, encodeAfter, type QueryFilter, type QueryHit, type QueryPage, type QueryableStore, type QueryableStoreFactory } from '../core/query.js';
import type { RecordBatch, RRRecord } from '../core/record.js';
import { bool, bytes, duration, exporterHelperProperties, int, obj, oneOf, str, strings, tls } from '../config/fragments.js';
import { buildIndexDoc, indexDocOf } from '../rrpair/derive.js';
import type { IndexDoc } from '../rrpair/index-doc.js';
import type { RRPair } from '../rrpair/types.js';
import { createExporter, type ExporterHelperConfig } from './exporter.js';

export type Flavor = 'opensearch' | 'elasticsearch';

export interface TlsConfig {
  insecure?: boolean;
  insecure_skip_verify?: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  server_name_override?: string;
}

export interface SearchExporterConfig extends ExporterHelperConfig {
  endpoint?: string;
  endpoints?: string[];
  index?: string;
  logs_index?: string;
  index_mode?: 'daily' | 'data_stream' | 'fixed';
  action: 'create' | 'index';
  mapping: { mode: 'rrpipe' | 'otel'; store_rrpair: boolean };
  user?: string;
  password?: string;
  api_key?: string;
  aws_sigv4?: { enabled: boolean; region?: string; service: 'es' | 'aoss' };
  tls?: TlsConfig;
  flush: { bytes: number; max_docs: number; concurrency: number };
  index_management: {
    enabled: boolean;
    template_name?: string;
    policy_name?: string;
    retention: number;
    rollover_max_age: number;
    number_of_shards?: number;
    number_of_replicas?: number;
  };
  query: { max_limit: number; keyword_suffix: string };
}

export function searchExporterSchema(flavor: Flavor): JSONSchema {
  return obj({
    endpoint: str(undefined, 'URL of the cluster, e.g. https://search-x.eu-west-1.es.amazonaws.com (or use endpoints).'),
    endpoints: strings(undefined, 'URLs of cluster nodes (the OTel Collector elasticsearch exporter key).'),
    index: str(undefined, 'Index name, prefix of the daily indices, or data stream name. Default rrpipe-rrpairs (mapping.mode rrpipe) or speedscale-rrpair (otel).'),
    logs_index: str(undefined, 'Alias of index (the OTel Collector elasticsearch exporter key).'),
    index_mode: oneOf(['daily', 'data_stream', 'fixed'], undefined, 'daily: <index>-YYYY.MM.DD by event time; data_stream: a data stream; fixed: one index. Default daily (rrpipe) or fixed (otel).'),
    action: oneOf(['create', 'index'], 'create', 'Bulk action: create (write once; a document already there counts as delivered) or index (overwrite).'),
    mapping: obj({
      mode: oneOf(['rrpipe', 'otel'], 'rrpipe', 'rrpipe: the flat index document; otel: what the OTel Collector elasticsearch exporter writes (@timestamp, Body.*, Attributes.*, Resource.*).'),
      store_rrpair: bool(false, 'rrpipe mode: keep the whole RRPair in the document (stored, not indexed).'),
    }),
    user: str(undefined, 'Basic auth user name.'),
    password: str(undefined, 'Basic auth password.', { 'x-secret': true }),
    api_key: str(undefined, 'API key (base64 of id:key), sent as Authorization: ApiKey.', { 'x-secret': true }),
    ...(flavor === 'opensearch'
      ? {
          aws_sigv4: obj({
            enabled: bool(false, 'Sign requests with AWS Signature V4 (Amazon OpenSearch Service); credentials from the AWS default chain.'),
            region: str(undefined, 'AWS region, e.g. eu-west-1.'),
            service: oneOf(['es', 'aoss'], 'es', 'es: managed domains; aoss: OpenSearch Serverless collections.'),
          }),
        }
      : {}),
    tls: tls(),
    flush: obj({
      bytes: bytes('5MiB', 'Largest bulk request body; a batch is split into several bulk requests above this.'),
      max_docs: int(1000, 'Most documents in one bulk request.', { minimum: 1 }),
      concurrency: int(2, 'Bulk requests of one batch in flight at once.', { minimum: 1 }),
    }),
    index_management: obj({
      enabled: bool(true, 'Create the index template and the retention policy at start (needs the privileges).'),
      template_name: str(undefined, 'Index template name (default: the index name).'),
      policy_name: str(undefined, `${flavor === 'opensearch' ? 'ISM' : 'ILM'} policy name (default: <index>-retention).`),
      retention: duration('7d', 'Delete indices older than this (daily indices, data stream backing indices); 0 = no policy.'),
      rollover_max_age: duration('1d', 'data_stream: roll the write index over at this age.'),
      number_of_shards: int(undefined, 'Shards per index (template setting).', { minimum: 1 }),
      number_of_replicas: int(undefined, 'Replicas per index (template setting).', { minimum: 0 }),
    }),
    query: obj({
      max_limit: int(10_000, 'Largest page a query returns.', { minimum: 1, maximum: 10_000 }),
      keyword_suffix: str('', 'Appended to the dimension fields in queries, e.g. ".keyword" for an index that Elasticsearch mapped dynamically (text + keyword sub-field), as an existing BYOC speedscale-rrpair index may be.'),
    }),
    ...exporterHelperProperties(),
  });
}

// ---- resolved settings ---------------------------------------------------------------------------

export interface Resolved {
  nodes: string[];
  mode: 'rrpipe' | 'otel';
  index: string;
  indexMode: 'daily' | 'data_stream' | 'fixed';
  /** What searches address. */
  searchTarget: string;
  templateName: string;
  policyName: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function resolveSettings(c: SearchExporterConfig, configDir: string): Resolved {
  const nodes = c.endpoints?.length ? c.endpoints : c.endpoint ? [c.endpoint] : [];
  if (nodes.length === 0) throw new PermanentError('endpoint (or endpoints) is required');
  const mode = c.mapping.mode;
  const index = c.index ?? c.logs_index ?? (mode === 'otel' ? 'speedscale-rrpair' : 'rrpipe-rrpairs');
  const indexMode = c.index_mode ?? (mode === 'otel' ? 'fixed' : 'daily');
  const read = (f?: string) => (f ? readFileSync(resolve(configDir, f)) : undefined);
  return {
    nodes,
    mode,
    index,
    indexMode,
    searchTarget: indexMode === 'daily' ? `${index}-*` : index,
    templateName: c.index_management.template_name ?? index,
    policyName: c.index_management.policy_name ?? `${index}-retention`,
    ca: read(c.tls?.ca_file),
    cert: read(c.tls?.cert_file),
    key: read(c.tls?.key_file),
  };
}

export function validateSearchConfig(c: SearchExporterConfig): { path?: string[]; message: string }[] {
  const out: { path?: string[]; message: string }[] = [];
  if (!c.endpoint && !c.endpoints?.length) out.push({ path: ['endpoint'], message: 'endpoint (or endpoints) is required' });
  if (c.endpoint && c.endpoints?.length) out.push({ path: ['endpoints'], message: 'give endpoint or endpoints, not both' });
  if (c.index && c.logs_index && c.index !== c.logs_index) out.push({ path: ['logs_index'], message: 'index and logs_index are the same setting; give one' });
  if (c.index_mode === 'data_stream' && c.action === 'index') out.push({ path: ['action'], message: 'a data stream takes only the create action' });
  if (c.user && c.password === undefined) out.push({ path: ['password'], message: 'user needs a password' });
  if (c.aws_sigv4?.enabled && !c.aws_sigv4.region) out.push({ path: ['aws_sigv4', 'region'], message: 'aws_sigv4 needs a region' });
  if (c.aws_sigv4?.enabled && (c.user || c.api_key)) out.push({ path: ['aws_sigv4'], message: 'aws_sigv4 replaces user/password and api_key; give one kind of auth' });
  if (c.mapping.mode === 'otel' && c.mapping.store_rrpair) out.push({ path: ['mapping', 'store_rrpair'], message: 'otel mode always stores the whole RRPair (as Body)' });
  return out;
}

// ---- documents -----------------------------------------------------------------------------------

const KEYWORDS = ['id', 'cluster', 'namespace', 'service', 'direction', 'l7protocol', 'command', 'location', 'status', 'host', 'archive_uri'] as const;

/** The document written for a record. */
export function documentOf(r: RRRecord, mode: 'rrpipe' | 'otel', opts: { storeRRPair: boolean; dataStream: boolean }): { id: string; ts: string; doc: Record<string, unknown> } {
  const d = indexDocOf(r);
  if (mode === 'otel') {
    return {
      id: d.id,
      ts: d.ts,
      doc: {
        '@timestamp': d.ts,
        Body: r.rrpair,
        Attributes: { service: d.service, namespace: d.namespace },
        Resource: { cluster: d.cluster },
      },
    };
  }
  const doc: Record<string, unknown> = { ...d };
  if (opts.dataStream) doc['@timestamp'] = d.ts;
  if (opts.storeRRPair) doc.rrpair = r.rrpair;
  return { id: d.id, ts: d.ts, doc };
}

/** The target index of a document. */
export function indexFor(s: Resolved, ts: string): string {
  if (s.indexMode !== 'daily') return s.index;
  return `${s.index}-${ts.slice(0, 4)}.${ts.slice(5, 7)}.${ts.slice(8, 10)}`;
}

export function mappings(mode: 'rrpipe' | 'otel', dataStream: boolean): Record<string, unknown> {
  if (mode === 'otel') {
    const kw = { type: 'keyword', ignore_above: 8191 };
    return {
      dynamic: false,
      properties: {
        '@timestamp': { type: 'date' },
        Body: {
          dynamic: false,
          properties: {
            uuid: { type: 'keyword' }, ts: { type: 'keyword' }, direction: { type: 'keyword' }, l7protocol: { type: 'keyword' },
            command: kw, location: kw, status: { type: 'keyword' }, cluster: { type: 'keyword' }, namespace: { type: 'keyword' },
            service: { type: 'keyword' }, duration: { type: 'long' }, network_address: { type: 'keyword' },
            http: { type: 'object', enabled: false },
          },
        },
        Attributes: { dynamic: false, properties: { service: { type: 'keyword' }, namespace: { type: 'keyword' } } },
        Resource: { dynamic: false, properties: { cluster: { type: 'keyword' } } },
      },
    };
  }
  const props: Record<string, unknown> = {};
  for (const k of KEYWORDS) props[k] = k === 'location' ? { type: 'keyword', ignore_above: 8191 } : { type: 'keyword' };
  // ts keeps nanoseconds; its keyword sub-field gives exact, JSON-safe sort values for paging.
  props.ts = { type: 'date_nanos', fields: { sort: { type: 'keyword' } } };
  props.duration = { type: 'long' };
  props.req_size = { type: 'long' };
  props.res_size = { type: 'long' };
  props.rrpair = { type: 'object', enabled: false };
  if (dataStream) props['@timestamp'] = { type: 'date_nanos' };
  return { dynamic: false, properties: props };
}

/** "7d" / "36h" / "90m" / "30s" for a duration in ms (the units ILM and ISM accept). */
export function timeValue(ms: number): string {
  for (const [u, n] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}

export function indexTemplate(s: Resolved, c: SearchExporterConfig, flavor: Flavor): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  const im = c.index_management;
  if (im.number_of_shards !== undefined) settings['index.number_of_shards'] = im.number_of_shards;
  if (im.number_of_replicas !== undefined) settings['index.number_of_replicas'] = im.number_of_replicas;
  if (flavor === 'elasticsearch' && im.retention > 0 && s.indexMode !== 'fixed') settings['index.lifecycle.name'] = s.policyName;
  const dataStream = s.indexMode === 'data_stream';
  return {
    index_patterns: [s.indexMode === 'daily' ? `${s.index}-*` : s.index],
    priority: 200,
    ...(dataStream ? { data_stream: {} } : {}),
    template: { settings, mappings: mappings(s.mode, dataStream) },
    _meta: { managed_by: 'rrpipe' },
  };
}

export function ilmPolicy(s: Resolved, c: SearchExporterConfig): Record<string, unknown> {
  const hot = s.indexMode === 'data_stream' ? { rollover: { max_age: timeValue(c.index_management.rollover_max_age) } } : {};
  return {
    policy: {
      phases: {
        hot: { min_age: '0ms', actions: hot },
        delete: { min_age: timeValue(c.index_management.retention), actions: { delete: {} } },
      },
      _meta: { managed_by: 'rrpipe' },
    },
  };
}

export function ismPolicy(s: Resolved, c: SearchExporterConfig): Record<string, unknown> {
  const rollover = s.indexMode === 'data_stream' ? [{ rollover: { min_index_age: timeValue(c.index_management.rollover_max_age) } }] : [];
  return {
    policy: {
      description: `rrpipe: delete ${s.index} indices after ${timeValue(c.index_management.retention)}`,
      default_state: 'hot',
      states: [
        { name: 'hot', actions: rollover, transitions: [{ state_name: 'delete', conditions: { min_index_age: timeValue(c.index_management.retention) } }] },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [s.indexMode === 'daily' ? `${s.index}-*` : s.indexMode === 'data_stream' ? `.ds-${s.index}-*` : s.index], priority: 100 }],
    },
  };
}

// ---- the client adapter --------------------------------------------------------------------------

export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

export interface SearchHitRaw {
  _index: string;
  _id: string;
  _source?: Record<string, unknown>;
  sort?: unknown[];
}

/** The calls each exporter makes through its official client. Errors carry statusCode. */
export interface EngineClient {
  /** `lines` alternate action and document, already serialized. */
  bulk(lines: string[], signal: AbortSignal): Promise<{ items: Record<string, BulkItemResult>[] }>;
  search(target: string, body: Record<string, unknown>): Promise<SearchHitRaw[]>;
  getDoc(index: string, id: string): Promise<Record<string, unknown> | undefined>;
  putIndexTemplate(name: string, body: Record<string, unknown>): Promise<void>;
  /** ILM (Elasticsearch) or ISM (OpenSearch). */
  putRetentionPolicy(name: string, body: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; meta?: { statusCode?: unknown } } | null;
  const s = e?.statusCode ?? e?.meta?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export function errorType(err: unknown): string {
  const body = (err as { body?: unknown; meta?: { body?: unknown } } | null)?.meta?.body ?? (err as { body?: unknown } | null)?.body;
  const e = (body as { error?: { type?: string; reason?: string } } | undefined)?.error;
  return e?.type ? `${e.type}: ${e.reason ?? ''}` : (err as Error)?.message ?? String(err);
}

/** Turn a client error into the pipeline's error classes. */
export function classify(err: unknown, what: string): Error {
  const s = statusOf(err);
  const msg = `${what}: ${errorType(err)}`;
  if (s === undefined) return new RetryableError(msg, { cause: err }); // connection errors, timeouts
  if (s === 408 || s === 429 || s >= 500) return new RetryableError(`${msg} (HTTP ${s})`, { cause: err });
  return new PermanentError(`${msg} (HTTP ${s})`, { cause: err });
}

// ---- the exporter --------------------------------------------------------------------------------

/** Retryable item statuses: the cluster was busy or a shard unavailable. */
export function itemRetryable(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

export interface SearchExporterParts {
  flavor: Flavor;
  makeClient(s: Resolved, c: SearchExporterConfig): Promise<EngineClient>;
}

export type SearchExporter = ReturnType<typeof createExporter> & QueryableStore;

/** The factory of a search exporter (opensearch, elasticsearch): the same schema, exporter and reader on the engine's client. */
export function searchExporterFactory(
  parts: SearchExporterParts & { description: string },
): ExporterFactory<SearchExporterConfig> & QueryableStoreFactory<SearchExporterConfig> {
  return {
    kind: 'exporter',
    type: parts.flavor,
    stability: 'beta',
    description: parts.description,
    schema: searchExporterSchema(parts.flavor),
    validate: validateSearchConfig,
    create: (s) => createSearchExporter(s, parts),
    async openReader(s) {
      const r = resolveSettings(s.config, s.configDir);
      const client = await parts.makeClient(r, s.config);
      return { ...searchStore(() => client, () => r, s.config), close: () => client.close() };
    },
  };
}

export function createSearchExporter(settings: CreateSettings<SearchExporterConfig>, parts: SearchExporterParts): SearchExporter {
  const c = settings.config;
  const log = settings.logger;
  let client: EngineClient | undefined;
  let resolved: Resolved | undefined;
  const itemErrors = settings.metrics.counter('search_bulk_item_errors', 'Bulk items a search cluster rejected, by status.', ['status']);

  const helper = createExporter(settings, {
    async start(_host: Host) {
      resolved = resolveSettings(c, settings.configDir);
      client = await parts.makeClient(resolved, c);
      if (c.index_management.enabled) await manage(client, resolved, c, parts.flavor, log);
    },
    async push(batch, signal) {
      if (!client || !resolved) throw new PermanentError(`exporter ${settings.id} is not started`);
      await bulkPush(client, resolved, c, batch, signal, (status) => itemErrors.inc({ status: String(status) }));
    },
    async shutdown() {
      await client?.close();
      client = undefined;
    },
  });
  const store = searchStore(() => client, () => resolved, c);
  return Object.assign(helper, { query: store.query, get: store.get });
}

async function manage(client: EngineClient, s: Resolved, c: SearchExporterConfig, flavor: Flavor, log: CreateSettings<unknown>['logger']): Promise<void> {
  try {
    if (c.index_management.retention > 0 && s.indexMode !== 'fixed') {
      await client.putRetentionPolicy(s.policyName, flavor === 'elasticsearch' ? ilmPolicy(s, c) : ismPolicy(s, c));
    } else if (c.index_management.retention > 0) {
      log.warn({ index: s.index }, 'index_mode fixed: no retention policy (deleting the one index would delete everything); use daily or data_stream for retention');
    }
    await client.putIndexTemplate(s.templateName, indexTemplate(s, c, flavor));
    log.info({ template: s.templateName, policy: s.policyName, index: s.index, index_mode: s.indexMode }, 'index template and retention policy in place');
  } catch (err) {
    throw classify(err, 'index management (set index_management.enabled: false to skip it)');
  }
}

/** Send a batch as one or more bulk requests; throws PartialFailureError naming the failed records. */
export async function bulkPush(
  client: EngineClient, s: Resolved, c: SearchExporterConfig, batch: RecordBatch, signal: AbortSignal, onItemError: (status: number) => void,
): Promise<void> {
  // Build each record's two lines once; chunks by count and bytes.
  const chunks: { idx: number[]; lines: string[] }[] = [];
  let cur: { idx: number[]; lines: string[]; bytes: number } = { idx: [], lines: [], bytes: 0 };
  const failures: ItemFailure[] = [];
  batch.forEach((r, i) => {
    let doc: ReturnType<typeof documentOf>;
    let docLine: string;
    try {
      doc = documentOf(r, s.mode, { storeRRPair: c.mapping.store_rrpair, dataStream: s.indexMode === 'data_stream' });
      docLine = JSON.stringify(doc.doc);
    } catch (err) {
      failures.push({ index: i, reason: `cannot build the document: ${(err as Error).message}`, retryable: false });
      return;
    }
    const action = JSON.stringify({ [c.action]: { _index: indexFor(s, doc.ts), _id: doc.id } });
    const size = action.length + docLine.length + 2;
    if (cur.idx.length && (cur.idx.length >= c.flush.max_docs || cur.bytes + size > c.flush.bytes)) {
      chunks.push(cur);
      cur = { idx: [], lines: [], bytes: 0 };
    }
    cur.idx.push(i);
    cur.lines.push(action, docLine);
    cur.bytes += size;
  });
  if (cur.idx.length) chunks.push(cur);

  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      try {
        const res = await client.bulk(chunk.lines, signal);
        if (res.items.length !== chunk.idx.length) throw new RetryableError(`bulk answered ${res.items.length} items for ${chunk.idx.length}`);
        res.items.forEach((item, j) => {
          const r = Object.values(item)[0]!;
          if (r.status < 300) return;
          if (r.status === 409 && c.action === 'create') return; // already there: idempotent success
          onItemError(r.status);
          const e = r.error;
          const reason = `${e?.type ?? `HTTP ${r.status}`}: ${e?.reason ?? ''}${e?.caused_by?.reason ? ` (${e.caused_by.reason})` : ''}`;
          failures.push({ index: chunk.idx[j]!, reason, retryable: itemRetryable(r.status) });
        });
      } catch (err) {
        const e = err instanceof RetryableError || err instanceof PermanentError ? err : classify(err, 'bulk');
        if (chunks.length === 1 && failures.length === 0) throw e;
        const retryable = !(e instanceof PermanentError);
        for (const i of chunk.idx) failures.push({ index: i, reason: e.message, retryable });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.flush.concurrency, chunks.length) }, worker));
  if (failures.length) throw new PartialFailureError(failures.sort((a, b) => a.index - b.index));
}

// ---- queries -------------------------------------------------------------------------------------

/** QueryFilter as a JS regex (unanchored search) → a Lucene regexp (whole-term match). */
export function toLuceneRegex(js: string): string {
  let src = js;
  let anchoredStart = false;
  let anchoredEnd = false;
  if (src.startsWith('^')) {
    anchoredStart = true;
    src = src.slice(1);
  }
  if (src.endsWith('$') && !src.endsWith('\\$')) {
    anchoredEnd = true;
    src = src.slice(0, -1);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '\\') {
      const n = src[i + 1];
      i++;
      if (n === undefined) throw new Error(`regex "${js}" ends with a backslash`);
      const cls: Record<string, string> = { d: '0-9', w: 'A-Za-z0-9_', s: ' \\t\\n\\r' };
      if (cls[n]) out += inClass ? cls[n] : `[${cls[n]}]`;
      else if (cls[n.toLowerCase()] && !inClass) out += `[^${cls[n.toLowerCase()]}]`;
      else if (/[0-9bBpPkcux]/.test(n)) throw new Error(`regex "${js}": \\${n} is not supported by the search engine's regexp`);
      else if (n === 't') out += '\\t';
      else if (n === 'n') out += '\\n';
      else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch === '"' ? '\\"' : ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      continue;
    }
    if (ch === '(' && src[i + 1] === '?') {
      if (src[i + 2] === ':') {
        out += '(';
        i += 2;
        continue;
      }
      throw new Error(`regex "${js}": lookaround and named groups are not supported by the search engine's regexp`);
    }
    if ((ch === '*' || ch === '+' || ch === '?' || ch === '}') && src[i + 1] === '?') throw new Error(`regex "${js}": lazy quantifiers are not supported by the search engine's regexp`);
    if (ch === '^' || ch === '$') throw new Error(`regex "${js}": ^ and $ are supported only at the start and end`);
    // Characters that are operators in Lucene regexp but literal in JS.
    if ('"~&@<>#'.includes(ch)) {
      out += `\\${ch}`;
      continue;
    }
    out += ch;
  }
  return `${anchoredStart ? '' : '.*'}(${out})${anchoredEnd ? '' : '.*'}`;
}

interface Fields {
  ts: string;
  sort: [string, string];
  cluster: string;
  namespace: string;
  service: string;
  direction: string;
  command: string;
  status: string;
  location: string;
}

const RRPIPE_FIELDS: Fields = { ts: 'ts', sort: ['ts.sort', 'id'], cluster: 'cluster', namespace: 'namespace', service: 'service', direction: 'direction', command: 'command', status: 'status', location: 'location' };
const OTEL_FIELDS: Fields = { ts: '@timestamp', sort: ['@timestamp', 'Body.uuid'], cluster: 'Resource.cluster', namespace: 'Attributes.namespace', service: 'Attributes.service', direction: 'Body.direction', command: 'Body.command', status: 'Body.status', location: 'Body.location' };

export function searchBody(mode: 'rrpipe' | 'otel', f: QueryFilter, size: number, keywordSuffix = ''): Record<string, unknown> {
  const base = mode === 'otel' ? OTEL_FIELDS : RRPIPE_FIELDS;
  const kw = (field: string) => field + keywordSuffix;
  const F: Fields = {
    ts: base.ts,
    sort: [base.sort[0], kw(base.sort[1])],
    cluster: kw(base.cluster), namespace: kw(base.namespace), service: kw(base.service), direction: kw(base.direction),
    command: kw(base.command), status: kw(base.status), location: kw(base.location),
  };
  const filter: unknown[] = [];
  if (f.start || f.end) {
    const r: Record<string, string> = {};
    if (f.start) r.gte = f.start.toISOString();
    if (f.end) r.lt = f.end.toISOString();
    filter.push({ range: { [F.ts]: r } });
  }
  for (const k of ['cluster', 'namespace', 'service', 'direction'] as const) if (f[k] !== undefined) filter.push({ term: { [F[k]]: f[k] } });
  for (const [k, field] of [['method', F.command], ['status', F.status], ['endpoint', F.location]] as const) {
    const v = f[k];
    if (v !== undefined) filter.push({ regexp: { [field]: { value: toLuceneRegex(v), flags: 'NONE' } } });
  }
  const body: Record<string, unknown> = {
    query: filter.length ? { bool: { filter } } : { match_all: {} },
    sort: [{ [F.sort[0]]: 'asc' }, { [F.sort[1]]: 'asc' }],
    size,
    track_total_hits: false,
  };
  if (f.after) body.search_after = decodeAfter(f.after);
  return body;
}

export function hitOf(mode: 'rrpipe' | 'otel', h: SearchHitRaw): QueryHit {
  const src = h._source ?? {};
  if (mode === 'otel') {
    const rr = (src.Body ?? {}) as RRPair;
    const doc = buildIndexDoc({
      rrpair: rr,
      resource: (src.Resource ?? {}) as Record<string, string>,
      attributes: (src.Attributes ?? {}) as Record<string, string>,
      observedNs: 0n,
    });
    doc.id = h._id;
    if (typeof src['@timestamp'] === 'string' && !rr.ts) doc.ts = src['@timestamp'];
    return { doc, rrpair: rr };
  }
  const { rrpair, '@timestamp': _ts, ...rest } = src;
  const hit: QueryHit = { doc: rest as IndexDoc };
  if (rrpair && typeof rrpair === 'object') hit.rrpair = rrpair as RRPair;
  return hit;
}

export function searchStore(getClient: () => EngineClient | undefined, getResolved: () => Resolved | undefined, c: SearchExporterConfig): QueryableStore {
  return {
    async query(f: QueryFilter): Promise<QueryPage> {
      const client = getClient();
      const s = getResolved();
      if (!client || !s) throw new Error('the exporter is not started');
      // One more than asked tells whether there is a next page; the engines cap a page at 10,000.
      const limit = Math.min(Math.max(1, f.limit ?? 100), c.query.max_limit, 9_999);
      const body = searchBody(s.mode, f, Math.min(limit + 1, 10_000), c.query.keyword_suffix);
      let raw: SearchHitRaw[];
      try {
        raw = await client.search(s.searchTarget, body);
      } catch (err) {
        if (statusOf(err) === 404) return { hits: [] }; // nothing indexed yet
        throw new Error(`search ${s.searchTarget}: ${errorType(err)}`, { cause: err });
      }
      const more = raw.length > limit;
      const page = raw.slice(0, limit);
      const hits = page.map((h) => hitOf(s.mode, h));
      const last = page[page.length - 1];
      return { hits, ...(more && last?.sort ? { next: encodeAfter(last.sort) } : {}) };
    },
    async get(id: string): Promise<RRPair | undefined> {
      const client = getClient();
      const s = getResolved();
      if (!client || !s) throw new Error('the exporter is not started');
      if (s.mode === 'rrpipe' && !c.mapping.store_rrpair) return undefined;
      if (s.indexMode === 'fixed') {
        const src = await client.getDoc(s.index, id);
        if (!src) return undefined;
        return (s.mode === 'otel' ? src.Body : src.rrpair) as RRPair | undefined;
      }
      const field = (s.mode === 'otel' ? 'Body.uuid' : 'id') + c.query.keyword_suffix;
      const hits = await client.search(s.searchTarget, { query: { term: { [field]: id } }, size: 1 });
      const src = hits[0]?._source;
      return src ? ((s.mode === 'otel' ? src.Body : src.rrpair) as RRPair | undefined) : undefined;
    },
  };
}
