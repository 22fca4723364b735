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
  return withInit({ rrpair } as RRRecord, init);
}

/** The record with the fields of `init` set, in one order (one hidden class for every record). */
function withInit(r: RRRecord, init: Partial<Omit<RRRecord, 'rrpair'>>): RRRecord {
  r.resource = init.resource ?? {};
  r.attributes = init.attributes ?? {};
  r.observedNs = init.observedNs ?? nowNs();
  if (init.timeUnixNano) r.timeUnixNano = init.timeUnixNano;
  if (init.scope) r.scope = init.scope;
  if (init.index) r.index = init.index;
  if (init.location) r.location = init.location;
  if (init.sizeHint !== undefined) r.sizeHint = init.sizeHint;
  return r;
}

/**
 * A deep copy, so that one pipeline's processors cannot change another pipeline's records. A
 * record whose RRPair is still unread (newRecordFromJson) stays so: the copy shares its JSON.
 */
export function cloneRecord(r: RRRecord): RRRecord {
  const j = rrpairJson.get(r);
  if (j === undefined || j.rrpair !== UNREAD) return structuredClone(r);
  return Object.assign(unreadShell({ rrpair: UNREAD, json: j.json, known: j.known, forgotten: false }), structuredClone(fieldsOf(r)));
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
 *
 * A record made by newRecordFromJson has no RRPair object until something reads `r.rrpair`: the
 * property is an own enumerable accessor that parses the JSON on first read and then becomes a
 * plain data property (assigning replaces it the same way). Being an own enumerable property, it
 * is read, so parsed, by whatever copies the record (spread, structuredClone, JSON.stringify,
 * postMessage); only cloneRecord copies the JSON instead.
 */
const UNREAD = Symbol('unread');

interface RRPairJson {
  /** The RRPair the JSON was made for; UNREAD while `r.rrpair` is still the parsing accessor. */
  rrpair: RRPair | typeof UNREAD;
  json: Buffer;
  /** Top-level values of an unread RRPair that are known without parsing (see rrpairField). */
  known?: Readonly<Record<string, unknown>>;
  /** forgetRRPairJson was called while unread: the JSON is dropped once the RRPair is read. */
  forgotten: boolean;
}

const rrpairJson = new WeakMap<RRRecord, RRPairJson>();

/** A record holding only its RRPair JSON, unread; the caller adds the other fields. */
function unreadShell(j: RRPairJson): RRRecord {
  const r = Object.defineProperty({}, 'rrpair', UNREAD_RRPAIR) as RRRecord;
  rrpairJson.set(r, j);
  return r;
}

/** A record's fields other than its RRPair (read as own keys, so an unread RRPair stays unread). */
function fieldsOf(r: RRRecord): Partial<RRRecord> {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(r)) if (k !== 'rrpair') fields[k] = r[k as keyof RRRecord];
  return fields;
}

function settle(r: RRRecord, rrpair: RRPair): void {
  Object.defineProperty(r, 'rrpair', { value: rrpair, writable: true, enumerable: true, configurable: true });
}

/** Shared by every unread record, so they keep one hidden class. */
const UNREAD_RRPAIR: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: RRRecord): RRPair {
    const j = rrpairJson.get(this);
    const rrpair = (j ? JSON.parse(j.json.toString('utf8')) : undefined) as RRPair;
    settle(this, rrpair);
    if (j) {
      if (j.forgotten) rrpairJson.delete(this);
      else {
        j.rrpair = rrpair;
        delete j.known;
      }
    }
    return rrpair;
  },
  set(this: RRRecord, rrpair: RRPair): void {
    rrpairJson.delete(this);
    settle(this, rrpair);
  },
};

/**
 * A record whose RRPair is this JSON (UTF-8, exactly JSON.stringify of the RRPair), parsed only
 * when `r.rrpair` is first read. `known` holds top-level values of the RRPair the caller already
 * has (rrpairField answers them without parsing); the JSON and `known` must not change after.
 */
export function newRecordFromJson(json: Buffer, known: Readonly<Record<string, unknown>>, init: Partial<Omit<RRRecord, 'rrpair'>> = {}): RRRecord {
  return withInit(unreadShell({ rrpair: UNREAD, json, known, forgotten: false }), init);
}

/**
 * The record with its RRPair replaced by this JSON, unread (as newRecordFromJson makes it): for an
 * RRPair changed elsewhere (a worker thread) and handed back as text. The other fields are the
 * record's own, shared. With `changed`, the top-level keys whose values the change touched, the
 * record's other known top-level values (rrpairField) are kept; without it, none is.
 */
export function withRRPairJson(r: RRRecord, json: Buffer, changed?: readonly string[]): RRRecord {
  const had = rrpairJson.get(r)?.known;
  // `known` is never changed once made, so a record the change left alone shares it
  const known = !changed || !had ? undefined : changed.length === 0 ? had : Object.fromEntries(Object.entries(had).filter(([k]) => !changed.includes(k)));
  return Object.assign(unreadShell({ rrpair: UNREAD, json, ...(known ? { known } : {}), forgotten: false }), fieldsOf(r));
}

/**
 * A shallow copy of the record with these fields set: the RRPair is shared, as a spread shares it,
 * and so is its JSON while that is still true (a spread would lose it, and an exporter would have
 * to stringify the RRPair again).
 */
export function withFields(r: RRRecord, fields: Partial<Omit<RRRecord, 'rrpair'>>): RRRecord {
  const j = rrpairJson.get(r);
  if (j === undefined || (j.rrpair !== UNREAD && j.rrpair !== r.rrpair)) return { ...r, ...fields };
  if (j.rrpair === UNREAD) return Object.assign(unreadShell({ rrpair: UNREAD, json: j.json, known: j.known, forgotten: j.forgotten }), fieldsOf(r), fields);
  const copy = Object.assign({ rrpair: j.rrpair } as RRRecord, fieldsOf(r), fields);
  rrpairJson.set(copy, { rrpair: j.rrpair, json: j.json, forgotten: false });
  return copy;
}

/** One top-level field of the record's RRPair, without parsing an unread RRPair when its value is known. */
export function rrpairField(r: RRRecord, key: string): unknown {
  const k = rrpairJson.get(r)?.known;
  if (k !== undefined && Object.hasOwn(k, key)) return k[key];
  return r.rrpair[key];
}

/** Whether the record's RRPair has not been parsed from its JSON yet. */
export function rrpairUnread(r: RRRecord): boolean {
  return rrpairJson.get(r)?.rrpair === UNREAD;
}

/** The record's RRPair JSON as it arrived, when it is still true. */
export function rrpairJsonOf(r: RRRecord): Buffer | undefined {
  const j = rrpairJson.get(r);
  return j !== undefined && (j.rrpair === UNREAD || j.rrpair === r.rrpair) ? j.json : undefined;
}

/**
 * Drop the RRPair JSON of these records (they are about to be changed). An unread RRPair keeps
 * it until it is read: what is never read cannot have been changed.
 */
export function forgetRRPairJson(batch: readonly RRRecord[]): void {
  for (const r of batch) {
    const j = rrpairJson.get(r);
    if (j === undefined) continue;
    if (j.rrpair === UNREAD) j.forgotten = true;
    else rrpairJson.delete(r);
  }
}
