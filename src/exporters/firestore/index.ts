import { resolve } from 'node:path';
import type { BulkWriter, CollectionReference, DocumentData, Firestore, Query, QueryDocumentSnapshot } from '@google-cloud/firestore';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { ExporterFactory, CreateSettings } from '../../core/component.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, obj, path, str, type Config } from '../../config/fragments.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { createExporter } from '../../helpers/exporter.js';
import { compileFilter, pageOf, queryable, tooLargeReason } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';

const firestore = lazyRequire<typeof import('@google-cloud/firestore')>('@google-cloud/firestore');

/** Firestore's hard limit on a document (https://cloud.google.com/firestore/quotas#limits). */
export const FIRESTORE_MAX_DOCUMENT = 1_048_576;
/** gRPC codes worth retrying: CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE. */
const RETRYABLE_CODES = new Set([1, 4, 8, 10, 13, 14]);
/** Documents read per round trip while a query filters in rrpipe. */
const READ_CHUNK = 500;
const NUMERIC = new Set(['duration', 'req_size', 'res_size']);
const KNOWN = new Set<string>(INDEX_FIELDS);

export const schema = obj({
  project_id: str(undefined, 'Google Cloud project.'),
  database_id: str('(default)', 'Firestore database.'),
  collection: str('rrpairs', 'Collection of the documents (one document per RRPair, id = RRPair id).'),
  endpoint: address(undefined, 'host:port of the Firestore emulator (plaintext). Unset for Cloud Firestore; FIRESTORE_EMULATOR_HOST is honoured too.'),
  credentials_file: path(undefined, 'Service account key file; Application Default Credentials (workload identity) when unset.'),
  ttl: duration('14d', 'Written into ttl_field as a Timestamp (receive time + ttl); a TTL policy on that field deletes the document.'),
  ttl_field: str('expire_at', 'The Timestamp field the collection\'s TTL policy is set on.'),
  store_rrpair: bool(true, 'Keep the full RRPair (field "rrpair", JSON text, not indexed).'),
  max_document_size: bytes('1MiB', 'Largest document (Firestore\'s limit, 1 MiB, is the most); larger records are dead-lettered.'),
  initial_ops_per_second: int(500, 'BulkWriter\'s starting write rate (Firestore\'s 500/50/5 ramp-up rule); it grows by 50% every 5 minutes.', { minimum: 1 }),
  max_ops_per_second: int(10_000, 'BulkWriter\'s highest write rate.', { minimum: 1 }),
  ...exporterHelperProperties(),
}, { required: ['project_id'] });

export type FirestoreExporterConfig = Config<typeof schema>;

/**
 * The document id: the RRPair id with `%` and `/` percent-encoded (a `/` would make a path), and
 * the names Firestore reserves (`.`, `..`, `__…__`) escaped by their first character.
 */
export function documentId(id: string): string {
  const e = id.replace(/%/g, '%25').replace(/\//g, '%2F');
  return e === '.' || e === '..' || /^__.*__$/.test(e) ? `%${e.charCodeAt(0).toString(16).toUpperCase()}${e.slice(1)}` : e;
}

/** UTF-8 length + 1, as Firestore counts a string (field name or value). */
function strSize(s: string): number {
  return Buffer.byteLength(s) + 1;
}

/**
 * The stored size of a document as Firestore counts it
 * (https://cloud.google.com/firestore/docs/storage-size): name + fields + 32 bytes.
 */
export function documentSize(collection: string, docId: string, fields: Record<string, unknown>): number {
  let n = collection.split('/').reduce((a, p) => a + strSize(p), 0) + strSize(docId) + 16;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    n += strSize(k);
    n += typeof v === 'string' ? strSize(v) : typeof v === 'boolean' ? 1 : 8; // numbers and Timestamps: 8
  }
  return n + 32;
}

function docFromData(d: DocumentData): IndexDoc {
  const doc: Record<string, string | number | boolean> = {};
  for (const k of INDEX_FIELDS) if (d[k] !== undefined && d[k] !== null) doc[k] = NUMERIC.has(k) ? Number(d[k]) : d[k];
  const extra = d.x as Record<string, string | number | boolean> | undefined;
  if (extra) for (const [k, v] of Object.entries(extra)) doc[k] = v;
  return doc as IndexDoc;
}

/**
 * One document per RRPair in one collection, id = RRPair id: a replayed batch overwrites the same
 * documents. Queries order by (ts, id) and filter ts by range and service by equality in
 * Firestore (firestore.indexes.json); the other filters are applied by rrpipe on what is read.
 */
export class FirestoreStore implements QueryableStore {
  db!: Firestore;
  private col!: CollectionReference;
  private writer?: BulkWriter;

  constructor(private readonly cfg: FirestoreExporterConfig, private readonly configDir: string, private readonly log: CreateSettings<unknown>['logger']) {}

  async start(): Promise<void> {
    const c = this.cfg;
    const F = firestore().Firestore;
    this.db = new F({
      projectId: c.project_id,
      databaseId: c.database_id,
      ignoreUndefinedProperties: true,
      ...(c.endpoint && !process.env.FIRESTORE_EMULATOR_HOST ? { host: c.endpoint, ssl: false } : {}),
      ...(c.credentials_file ? { keyFilename: resolve(this.configDir, c.credentials_file) } : {}),
    });
    this.col = this.db.collection(c.collection);
    this.writer = this.db.bulkWriter({ throttling: { initialOpsPerSecond: c.initial_ops_per_second, maxOpsPerSecond: Math.max(c.max_ops_per_second, c.initial_ops_per_second) } });
    // Retries belong to the exporter helper (with its backoff, dead letter and shutdown deadline).
    this.writer.onWriteError(() => false);
    this.log.debug({ collection: c.collection }, 'firestore store started');
  }

  async shutdown(): Promise<void> {
    await this.writer?.close().catch(() => {});
    await this.db?.terminate().catch(() => {});
  }

  /** The document written for a record, or the reason it can never be written. */
  documentOf(doc: IndexDoc, rr: RRPair, observedMs: number): { id: string; data: Record<string, unknown> } | { tooLarge: string } {
    const c = this.cfg;
    const data: Record<string, unknown> = {};
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) {
      if (v === undefined) continue;
      if (KNOWN.has(k)) data[k] = v;
      else extra[k] = v;
    }
    if (Object.keys(extra).length) data.x = extra;
    if (c.store_rrpair) data.rrpair = JSON.stringify(rr);
    const id = documentId(doc.id);
    const size = documentSize(c.collection, id, { ...data, x: data.x ? JSON.stringify(data.x) : undefined, [c.ttl_field]: 0 });
    const limit = Math.min(c.max_document_size, FIRESTORE_MAX_DOCUMENT);
    if (size > limit) return { tooLarge: tooLargeReason('firestore', size, limit, 'the document (max_document_size)') };
    data[c.ttl_field] = firestore().Timestamp.fromMillis(observedMs + c.ttl);
    return { id, data };
  }

  async push(batch: RecordBatch): Promise<void> {
    const failed: ItemFailure[] = [];
    const writes: Promise<void>[] = [];
    const writer = this.writer!;
    batch.forEach((r, index) => {
      const d = this.documentOf(indexDocOf(r), r.rrpair, Number(r.observedNs / 1_000_000n));
      if ('tooLarge' in d) {
        failed.push({ index, retryable: false, reason: d.tooLarge });
        return;
      }
      writes.push(writer.set(this.col.doc(d.id), d.data).then(() => undefined, (err: { code?: number; message?: string }) => {
        const retryable = err.code === undefined || RETRYABLE_CODES.has(err.code);
        failed.push({ index, retryable, reason: `firestore: ${err.message ?? `code ${err.code}`}` });
      }));
    });
    await writer.flush();
    await Promise.all(writes);
    if (failed.length === batch.length && failed.every((f) => f.retryable)) throw new RetryableError(failed[0]!.reason);
    if (failed.length === batch.length && new Set(failed.map((f) => f.reason)).size === 1) throw new PermanentError(failed[0]!.reason);
    if (failed.length) throw new PartialFailureError(failed);
  }

  /** The Firestore query a filter reads (before rrpipe's own filtering), in (ts, id) order. */
  private baseQuery(f: ReturnType<typeof compileFilter>): Query {
    let q: Query = this.col;
    if (f.filter.service !== undefined) q = q.where('service', '==', f.filter.service);
    if (f.startTs) q = q.where('ts', '>=', f.startTs);
    if (f.endTs) q = q.where('ts', '<', f.endTs);
    q = q.orderBy('ts').orderBy('id');
    if (f.after) q = q.startAfter(f.after.ts, f.after.id);
    return q;
  }

  async query(filter: QueryFilter): Promise<QueryPage> {
    const f = compileFilter(filter);
    const hits: QueryHit[] = [];
    let q = this.baseQuery(f);
    const chunk = Math.min(Math.max(f.limit + 1, 50), READ_CHUNK);
    for (;;) {
      const snap = await q.limit(chunk).get();
      for (const d of snap.docs) {
        const hit = this.hitOf(d);
        if (!f.matches(hit.doc)) continue;
        hits.push(hit);
        if (hits.length > f.limit) return pageOf(hits, f.limit, true);
      }
      if (snap.docs.length < chunk) return pageOf(hits, f.limit, false);
      const last = snap.docs[snap.docs.length - 1]!;
      q = q.startAfter(last.get('ts'), last.get('id'));
    }
  }

  private hitOf(d: QueryDocumentSnapshot): QueryHit {
    const data = d.data();
    const doc = docFromData(data);
    return typeof data.rrpair === 'string' ? { doc, rrpair: JSON.parse(data.rrpair) as RRPair } : { doc };
  }

  async get(id: string): Promise<RRPair | undefined> {
    const snap = await this.col.doc(documentId(id)).get();
    const json = snap.exists ? snap.get('rrpair') : undefined;
    return typeof json === 'string' ? (JSON.parse(json) as RRPair) : undefined;
  }
}

export const factory: ExporterFactory<FirestoreExporterConfig> = {
  kind: 'exporter',
  type: 'firestore',
  stability: 'alpha',
  description: 'Short-term store in Cloud Firestore: one document per RRPair (id = RRPair id), BulkWriter, TTL field; queryable.',
  schema,
  create(s) {
    const store = new FirestoreStore(s.config, s.configDir, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b) => store.push(b), shutdown: () => store.shutdown() }), store);
  },
};
