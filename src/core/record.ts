import type { IndexDoc, RRPair } from './rrpair.js';

export type AttrValue = string | number | boolean;
export type Attrs = { [key: string]: AttrValue };

/** One RRPair as it travels through a pipeline. */
export interface RRRecord {
  /** The RRPair object; fields rrpipe does not know are kept as they came. */
  rrpair: RRPair;
  /** Resource attributes, e.g. { cluster }. */
  resource: Attrs;
  /** Log attributes, e.g. { service, namespace }. */
  attributes: Attrs;
  /** When rrpipe received the record, in nanoseconds since the epoch. */
  observedNs: bigint;
  /** The OTLP LogRecord's time_unix_nano (decimal string) when the record came as a LogRecord with one. */
  timeUnixNano?: string;
  /** The OTLP instrumentation scope the record came in under; OTLP exporters send it on unchanged. */
  scope?: InstrumentationScope;
  /** Set by the indexing processor. */
  index?: IndexDoc;
  /** Where the full RRPair lives in long-term storage (s3://…, gs://…, azblob://…, file://…). */
  location?: string;
  /** Size of the record as it arrived, in bytes, when the receiver knows it. */
  sizeHint?: number;
}

export interface InstrumentationScope {
  name: string;
  version?: string;
}

export type RecordBatch = RRRecord[];

/** Travels with a batch from the receiver to the exporters. */
export interface Context {
  /** Aborted when the caller gives up (client timeout, shutdown deadline). */
  signal?: AbortSignal;
  /** Request metadata (HTTP headers, gRPC metadata) when a receiver sets include_metadata. */
  metadata?: ReadonlyMap<string, string[]>;
  /** The receiver that produced the batch. */
  receiver?: string;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function newRecord(rrpair: RRPair, init: Partial<Omit<RRRecord, 'rrpair'>> = {}): RRRecord {
  return {
    rrpair,
    resource: init.resource ?? {},
    attributes: init.attributes ?? {},
    observedNs: init.observedNs ?? nowNs(),
    ...(init.timeUnixNano ? { timeUnixNano: init.timeUnixNano } : {}),
    ...(init.scope ? { scope: init.scope } : {}),
    ...(init.index ? { index: init.index } : {}),
    ...(init.location ? { location: init.location } : {}),
    ...(init.sizeHint !== undefined ? { sizeHint: init.sizeHint } : {}),
  };
}

/** A deep copy, so that one pipeline's processors cannot change another pipeline's records. */
export function cloneRecord(r: RRRecord): RRRecord {
  return structuredClone(r);
}

/** Approximate size in bytes; uses the receiver's hint when there is one. */
export function recordSize(r: RRRecord): number {
  if (r.sizeHint === undefined) r.sizeHint = rrpairJsonOf(r)?.length ?? Buffer.byteLength(JSON.stringify(r.rrpair));
  return r.sizeHint;
}

/**
 * The JSON of a record's RRPair as it arrived (the UTF-8 bytes of `JSON.stringify(r.rrpair)`
 * exactly), when the receiver had it without stringifying (the otlp receiver reads it from a
 * protobuf kvlist body). Exporters write it instead of stringifying the RRPair again. Bytes
 * rather than a string: they live outside V8's heap, so the records waiting in a batch do not
 * grow the heap the collector has to copy and promote. Held beside the record, not on it: a
 * copy of the record (spread, structuredClone, a queue) does not carry it, and it is only given
 * back while `r.rrpair` is still the object it was made for. Whatever changes an RRPair in place
 * must call `forgetRRPairJson` first; the graph does so before every processor whose factory
 * declares `mutatesData`.
 */
const rrpairJson = new WeakMap<RRRecord, { rrpair: RRPair; json: Buffer }>();

export function setRRPairJson(r: RRRecord, json: Buffer): void {
  rrpairJson.set(r, { rrpair: r.rrpair, json });
}

/** The record's RRPair JSON as it arrived, when it is still true. */
export function rrpairJsonOf(r: RRRecord): Buffer | undefined {
  const j = rrpairJson.get(r);
  return j !== undefined && j.rrpair === r.rrpair ? j.json : undefined;
}

/** Drop the RRPair JSON of these records (they are about to be changed). */
export function forgetRRPairJson(batch: readonly RRRecord[]): void {
  for (const r of batch) rrpairJson.delete(r);
}
