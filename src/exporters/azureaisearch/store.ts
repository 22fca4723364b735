import type { SearchClient, SearchIndexClient, SearchField } from '@azure/search-documents';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { CreateSettings } from '../../core/component.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryOptions, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { compileFilter, pageOf, tooLargeReason, tsOfDate } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import type { RRPair } from '../../rrpair/types.js';
import { KEY, RRPAIR, fieldsOf, indexDefinition, indexDocOfSearch, keyOf, problemOf, searchDocOf, type SearchDoc } from './fields.js';
import { odataFilterOf, odataString } from './filter.js';
import type { AzureAiSearchExporterConfig } from './index.js';

const sdk = lazyRequire<typeof import('@azure/search-documents')>('@azure/search-documents');

/** An index batch's limits: 1,000 actions, 16 MB. */
export const BATCH_DOCS = 1000;
export const BATCH_BYTES = 16 * 1024 * 1024;
/** Documents asked per search request (AI Search's page size). */
const PAGE = 1000;
/** Per-document status codes that may succeed later (AI Search's docs: 409 version conflict, 422 index busy, 429, 503). */
const RETRYABLE_ITEM = new Set([409, 422, 429, 500, 502, 503, 504]);

interface Pending {
  key: string;
  doc: SearchDoc;
  bytes: number;
  indexes: number[];
}

interface RestError {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

/** Whether a failed call may succeed later: throttling (429/503), 5xx, a connection error. */
export function classifySearch(err: unknown, what: string): Error {
  const e = err as RestError;
  const status = e.statusCode;
  const msg = `azure ai search ${what}: ${status ?? e.code ?? e.name ?? 'error'}: ${e.message ?? String(err)}`;
  if (status !== undefined && status < 500 && status !== 429 && status !== 408 && status !== 404) return new PermanentError(msg, { cause: err });
  const after = Number(e.response?.headers?.get('retry-after'));
  return new RetryableError(msg, { cause: err, ...(Number.isFinite(after) && after >= 0 && e.response?.headers?.get('retry-after') ? { retryAfterMs: after * 1000 } : {}) });
}

/**
 * Index documents (and optionally full RRPairs) in an Azure AI Search index, written with
 * mergeOrUpload batches and read back with $filter searches ordered by (ts, id) (see README.md).
 */
export class AiSearchStore implements QueryableStore {
  private index!: SearchIndexClient;
  private client!: SearchClient<SearchDoc>;
  private fields: SearchField[];
  private retentionTimer?: NodeJS.Timeout;
  private retentionRun?: Promise<void>;

  constructor(private readonly cfg: AzureAiSearchExporterConfig, private readonly log: CreateSettings<unknown>['logger']) {
    this.fields = fieldsOf(cfg.store_rrpair);
  }

  open(): void {
    const c = this.cfg;
    if (!c.endpoint) throw new Error('azureaisearch: endpoint is required');
    if (!c.api_key) throw new Error('azureaisearch: api_key is required');
    const cred = new (sdk().AzureKeyCredential)(c.api_key);
    const opts = { retryOptions: { maxRetries: c.max_retries }, allowInsecureConnection: c.endpoint.startsWith('http://') };
    this.index = new (sdk().SearchIndexClient)(c.endpoint, cred, opts);
    this.client = new (sdk().SearchClient)<SearchDoc>(c.endpoint, c.index_name, cred, opts);
  }

  async start(): Promise<void> {
    this.open();
    if (this.cfg.create_index) await this.ensureIndex();
    if (this.cfg.retention > 0) {
      const tick = () => {
        this.retentionRun = this.deleteExpired().then(() => undefined, (err) => this.log.warn({ err: (err as Error).message }, 'azureaisearch: retention delete failed; tried again next interval'));
      };
      this.retentionTimer = setInterval(tick, this.cfg.retention_interval);
      this.retentionTimer.unref();
      tick();
    }
  }

  async shutdown(): Promise<void> {
    clearInterval(this.retentionTimer);
    await this.retentionRun;
  }

  private async ensureIndex(): Promise<void> {
    const name = this.cfg.index_name;
    try {
      await this.index.getIndex(name);
      return;
    } catch (err) {
      if ((err as RestError).statusCode !== 404) throw new Error(`azureaisearch: cannot read index ${name}: ${(err as Error).message}`);
    }
    try {
      await this.index.createIndex(indexDefinition(name, this.cfg.store_rrpair));
      this.log.info({ index: name }, 'azure ai search index created');
    } catch (err) {
      if ((err as RestError).statusCode !== 409) throw new Error(`azureaisearch: cannot create index ${name}: ${(err as Error).message}`);
    }
  }

  /**
   * Retention: AI Search has no TTL, so every retention_interval rrpipe deletes the documents
   * whose ts is older than retention, a page of keys at a time.
   */
  async deleteExpired(now = Date.now()): Promise<number> {
    const cutoff = tsOfDate(new Date(now - this.cfg.retention));
    let deleted = 0;
    for (;;) {
      const keys: string[] = [];
      const res = await this.client.search('*', { filter: `ts lt ${odataString(cutoff)}`, select: [KEY], top: PAGE });
      for await (const page of res.results.byPage()) {
        for (const r of page.results) keys.push(String(r.document[KEY]));
        break;
      }
      if (!keys.length) return deleted;
      await this.client.deleteDocuments(KEY, keys, { throwOnAnyFailure: true });
      deleted += keys.length;
    }
  }

  async push(batch: RecordBatch): Promise<void> {
    const c = this.cfg;
    const failures = new Map<number, ItemFailure>();
    const byKey = new Map<string, Pending>();
    batch.forEach((r, index) => {
      try {
        const d = indexDocOf(r);
        const doc = searchDocOf(d, c.store_rrpair ? JSON.stringify(r.rrpair) : undefined);
        const problem = problemOf(doc, this.fields);
        if (problem) return void failures.set(index, { index, retryable: false, reason: `record too large for azure ai search: ${problem}` });
        const bytes = Buffer.byteLength(JSON.stringify(doc)) + 40;
        if (bytes > c.max_document_size) return void failures.set(index, { index, retryable: false, reason: tooLargeReason('azure ai search', bytes, c.max_document_size, 'the document (max_document_size; an index request is at most 16 MB)') });
        const key = String(doc[KEY]);
        const prev = byKey.get(key);
        if (prev) prev.indexes.push(index);
        else byKey.set(key, { key, doc, bytes, indexes: [index] });
      } catch (err) {
        failures.set(index, { index, retryable: false, reason: `azure ai search: cannot build the document: ${(err as Error).message}` });
      }
    });
    const chunks: Pending[][] = [];
    let cur: Pending[] = [];
    let bytes = 0;
    for (const p of byKey.values()) {
      if (cur.length && (cur.length >= BATCH_DOCS || bytes + p.bytes > BATCH_BYTES - 1024)) {
        chunks.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(p);
      bytes += p.bytes;
    }
    if (cur.length) chunks.push(cur);
    let firstError: Error | undefined;
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        for (const { p, error } of await this.writeChunk(chunks[next++]!)) {
          firstError ??= error;
          const retryable = !(error instanceof PermanentError);
          for (const index of p.indexes) failures.set(index, { index, retryable, reason: error.message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(c.concurrency, chunks.length) }, worker));
    const all = [...failures.values()];
    if (!all.length) return;
    if (all.length === batch.length && all.every((f) => f.retryable)) throw firstError instanceof RetryableError ? firstError : new RetryableError(all[0]!.reason);
    throw new PartialFailureError(all.sort((a, b) => a.index - b.index));
  }

  /** One mergeOrUpload batch; a 207 names each document that failed and why. */
  private async writeChunk(chunk: Pending[]): Promise<{ p: Pending; error: Error }[]> {
    try {
      const res = await this.client.mergeOrUploadDocuments(chunk.map((p) => p.doc), { throwOnAnyFailure: false });
      const byKey = new Map(chunk.map((p) => [p.key, p]));
      const out: { p: Pending; error: Error }[] = [];
      for (const r of res.results) {
        if (r.succeeded) continue;
        const p = byKey.get(r.key);
        if (!p) continue;
        const msg = `azure ai search refused the document (${r.statusCode}): ${r.errorMessage ?? 'no reason given'}`;
        out.push({ p, error: RETRYABLE_ITEM.has(r.statusCode) ? new RetryableError(msg) : new PermanentError(msg) });
      }
      return out;
    } catch (err) {
      const error = classifySearch(err, 'index batch');
      if (error instanceof PermanentError && chunk.length > 1) {
        // A request refused whole (400, 413): split until the refused document stands alone.
        const half = Math.ceil(chunk.length / 2);
        return [...(await this.writeChunk(chunk.slice(0, half))), ...(await this.writeChunk(chunk.slice(half)))];
      }
      return chunk.map((p) => ({ p, error }));
    }
  }

  async query(filter: QueryFilter, opts: QueryOptions = {}): Promise<QueryPage> {
    let f = compileFilter(filter);
    const limit = f.limit;
    const hits: QueryHit[] = [];
    const select = this.fields.filter((x) => x.name !== KEY && (x.name !== RRPAIR || this.cfg.store_rrpair)).map((x) => x.name);
    try {
      for (;;) {
        const { filter: odata, postFiltered } = odataFilterOf(f);
        // Without a regex left for rrpipe, one document more than the limit tells whether a next page exists.
        const top = postFiltered ? PAGE : Math.min(PAGE, limit + 1);
        const res = await this.client.search('*', {
          ...(odata ? { filter: odata } : {}),
          orderBy: ['ts asc', 'id asc'],
          select,
          top,
          ...(opts.signal ? { abortSignal: opts.signal } : {}),
        });
        let n = 0;
        let last: { ts: string; id: string } | undefined;
        for await (const page of res.results.byPage()) {
          for (const r of page.results) {
            n++;
            const doc = indexDocOfSearch(r.document);
            last = { ts: doc.ts, id: doc.id };
            if (!f.matches(doc)) continue;
            const rr = r.document[RRPAIR];
            hits.push({ doc, ...(typeof rr === 'string' ? { rrpair: JSON.parse(rr) as RRPair } : {}) });
          }
          break;
        }
        if (hits.length > limit) return pageOf(hits, limit, true);
        if (n < top || !last) return pageOf(hits, limit, false);
        // Documents past the page, filtered by rrpipe: go on after the last one read.
        f = { ...f, after: last };
      }
    } catch (err) {
      throw classifySearch(err, 'search');
    }
  }

  async get(id: string): Promise<RRPair | undefined> {
    if (!this.cfg.store_rrpair) return undefined;
    try {
      const res = await this.client.search('*', { filter: `${KEY} eq ${odataString(keyOf(id))}`, select: [RRPAIR], top: 1 });
      for await (const page of res.results.byPage()) {
        const rr = page.results[0]?.document[RRPAIR];
        return typeof rr === 'string' ? (JSON.parse(rr) as RRPair) : undefined;
      }
      return undefined;
    } catch (err) {
      throw classifySearch(err, 'get');
    }
  }
}
