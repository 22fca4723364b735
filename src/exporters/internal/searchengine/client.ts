/** The calls the exporter makes through each engine's official client, and how their errors map to the pipeline's. */
import { PermanentError, RetryableError } from '../../../core/errors.js';

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
  /** A search for its aggregations and exact total (size 0, track_total_hits). */
  searchAggs(target: string, body: Record<string, unknown>): Promise<{ total: number; aggregations?: Record<string, unknown> }>;
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
  // No answer: a connection error or timeout (the Elasticsearch client reports its status as 0)
  if (s === undefined || s === 0) return new RetryableError(msg, { cause: err });
  if (s === 408 || s === 429 || s >= 500) return new RetryableError(`${msg} (HTTP ${s})`, { cause: err });
  return new PermanentError(`${msg} (HTTP ${s})`, { cause: err });
}
