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
  if (r.sizeHint === undefined) r.sizeHint = Buffer.byteLength(JSON.stringify(r.rrpair));
  return r.sizeHint;
}
