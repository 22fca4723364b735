/** Writing: the document of a record, its index, and bulk requests chunked by count and bytes with per-item results. */
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../../core/errors.js';
import type { RecordBatch, RRRecord } from '../../../core/record.js';
import { indexDocOf } from '../../../rrpair/derive.js';
import { classify, statusOf, type EngineClient } from './client.js';
import type { MappingMode, Resolved, SearchExporterConfig } from './config.js';
import { ss4oDocument } from './ss4o.js';

/** The document written for a record. */
export function documentOf(
  r: RRRecord, mode: MappingMode, opts: { storeRRPair: boolean; dataStream: boolean; resolved?: Pick<Resolved, 'dataStream'>; nowNs?: bigint },
): { id: string; ts: string; doc: Record<string, unknown> } {
  const d = indexDocOf(r);
  if (mode === 'ss4o') {
    const doc = ss4oDocument(r, opts.resolved ?? { dataStream: { dataset: 'default', namespace: 'namespace' } }, opts.nowNs ?? BigInt(Date.now()) * 1_000_000n);
    return { id: d.id, ts: d.ts, doc };
  }
  if (mode === 'otel') {
    return {
      id: d.id,
      ts: d.ts,
      doc: {
        // As the OTel exporter: the LogRecord's timestamp (the forwarder's send time), else when it was observed.
        '@timestamp': nanosToIso(r.timeUnixNano ?? r.observedNs.toString()),
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

/** RFC 3339 with nanoseconds, as the OTel elasticsearch exporter writes @timestamp. */
export function nanosToIso(ns: string): string {
  const n = BigInt(ns);
  const ms = Number(n / 1_000_000n);
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

/** The target index of a document. */
export function indexFor(s: Resolved, ts: string): string {
  if (s.indexMode !== 'daily') return s.index;
  return `${s.index}-${ts.slice(0, 4)}.${ts.slice(5, 7)}.${ts.slice(8, 10)}`;
}

/** Retryable item statuses: the cluster was busy or a shard unavailable. */
export function itemRetryable(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Send a batch as one or more bulk requests; throws PartialFailureError naming the failed records. */
export async function bulkPush(
  client: EngineClient, s: Resolved, c: SearchExporterConfig, batch: RecordBatch, signal: AbortSignal, onItemError: (status: number) => void,
): Promise<void> {
  // Build each record's two lines once; chunks by count and bytes.
  const chunks: { idx: number[]; lines: string[] }[] = [];
  let cur: { idx: number[]; lines: string[]; bytes: number } = { idx: [], lines: [], bytes: 0 };
  const failures: ItemFailure[] = [];
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  batch.forEach((r, i) => {
    let doc: ReturnType<typeof documentOf>;
    let docLine: string;
    try {
      doc = documentOf(r, s.mode, { storeRRPair: c.mapping.store_rrpair, dataStream: s.indexMode === 'data_stream', resolved: s, nowNs });
      docLine = JSON.stringify(doc.doc);
    } catch (err) {
      failures.push({ index: i, reason: `cannot build the document: ${(err as Error).message}`, retryable: false });
      return;
    }
    const action = JSON.stringify({ [s.action]: { _index: indexFor(s, doc.ts), _id: doc.id } });
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
          if (r.status === 409 && s.action === 'create') return; // already there: idempotent success
          onItemError(r.status);
          const e = r.error;
          const reason = `${e?.type ?? `HTTP ${r.status}`}: ${e?.reason ?? ''}${e?.caused_by?.reason ? ` (${e.caused_by.reason})` : ''}`;
          failures.push({ index: chunk.idx[j]!, reason, retryable: itemRetryable(r.status) });
        });
      } catch (err) {
        if (statusOf(err) === 413) {
          // Over the cluster's http.max_content_length: send the halves (the workers pick them up);
          // a single document too large on its own can never be accepted and is dead-lettered.
          if (chunk.idx.length > 1) {
            const half = Math.ceil(chunk.idx.length / 2);
            chunks.push({ idx: chunk.idx.slice(0, half), lines: chunk.lines.slice(0, 2 * half) }, { idx: chunk.idx.slice(half), lines: chunk.lines.slice(2 * half) });
            continue;
          }
          const size = chunk.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
          failures.push({ index: chunk.idx[0]!, reason: `record too large for the bulk API: the request with this document alone is ${size} bytes and the cluster answered 413 (http.max_content_length)`, retryable: false });
          continue;
        }
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
