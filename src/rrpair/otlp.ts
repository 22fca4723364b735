import type { Attrs, InstrumentationScope, RRRecord } from '../core/record.js';
import { newRecord, newRecordFromJson } from '../core/record.js';
import { BODY_KEYS, RejectedLogRecord, type JsonBody } from './otlp-wire.js';
import { IDENTITY_FIELDS, isUnset, type RRPair } from './types.js';

/**
 * OTLP AnyValue in its JSON form (the protobuf-JSON mapping: int64 as string). The same
 * shape comes out of @opentelemetry/otlp-transformer's protobuf decoding.
 */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: number | string | bigint | { low: number; high: number } }
  | { doubleValue: number }
  | { arrayValue: { values?: AnyValue[] } }
  | { kvlistValue: { values?: KeyValue[] } }
  | { bytesValue: string | Uint8Array }
  /** Already converted by the protobuf reader (otlp-wire.ts). */
  | { plainValue: unknown }
  /** A kvlist body the protobuf reader wrote as JSON text (otlp-wire.ts JsonBody). */
  | JsonBody
  | Record<string, never>;

export interface KeyValue {
  key: string;
  value?: AnyValue;
}

/** Nesting limit when decoding bodies: deeper values are refused, not recursed into. */
export const MAX_DEPTH = 64;

export class OtlpMappingError extends Error {
  override name = 'OtlpMappingError';
}

/** AnyValue → plain JSON. Integral doubles become integers again (statusCode stays 200). */
export function fromAnyValue(v: AnyValue | undefined | null, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new OtlpMappingError(`value nested deeper than ${MAX_DEPTH} levels`);
  if (!v || typeof v !== 'object') return null;
  if ('plainValue' in v) return v.plainValue;
  if ('spans' in v) return JSON.parse(v.json.toString('utf8'));
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return intOf(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (v.arrayValue?.values ?? []).map((x) => fromAnyValue(x, depth + 1));
  if ('kvlistValue' in v) return fromKeyValues(v.kvlistValue?.values ?? [], depth + 1);
  if ('bytesValue' in v) return typeof v.bytesValue === 'string' ? v.bytesValue : Buffer.from(v.bytesValue).toString('base64');
  return null;
}

export function fromKeyValues(kvs: KeyValue[], depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs) out[kv.key] = fromAnyValue(kv.value, depth);
  return out;
}

function intOf(v: number | string | bigint | { low: number; high: number }): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  return v.high * 2 ** 32 + (v.low >>> 0);
}

/** Plain JSON → AnyValue, as the Speedscale forwarder encodes it (numbers as doubles). */
export function toAnyValue(v: unknown): AnyValue {
  if (v === null || v === undefined) return {};
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return { doubleValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    case 'object':
      if (Array.isArray(v)) return { arrayValue: { values: v.map(toAnyValue) } };
      return { kvlistValue: { values: toKeyValues(v as Record<string, unknown>) } };
    default:
      return { stringValue: String(v) };
  }
}

export function toKeyValues(o: Record<string, unknown>): KeyValue[] {
  return Object.entries(o)
    .filter(([, x]) => x !== undefined)
    .map(([key, x]) => ({ key, value: toAnyValue(x) }));
}

/**
 * A resource's attributes as Attrs, read once for all its LogRecords (on first use, where reading
 * them per record would have) and copied for each record, which owns its copy.
 */
class ResourceAttrs {
  private attrs?: Attrs;
  constructor(private readonly kvs: KeyValue[] | undefined) {}
  copy(): Attrs {
    return { ...this.read() };
  }
  /** Read them now (throws OtlpMappingError where a value nests too deep). */
  read(): Attrs {
    return (this.attrs ??= attrsOf(this.kvs));
  }
}

function attrsOf(kvs: KeyValue[] | undefined): Attrs {
  const out: Attrs = {};
  for (const kv of kvs ?? []) {
    const v = fromAnyValue(kv.value);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[kv.key] = v;
  }
  return out;
}

/**
 * One LogRecord → one record. The body holds the RRPair (a kvlist, or a string of RRPair JSON).
 * Where the body leaves cluster, namespace or service unset (or "undefined"), the log attribute
 * (service, namespace) or resource attribute (cluster) wins. Returns undefined when the body is not an RRPair.
 */
export function logRecordToRecord(
  log: { body?: AnyValue; attributes?: KeyValue[]; observedTimeUnixNano?: unknown; timeUnixNano?: unknown },
  resourceAttrs: KeyValue[] | undefined,
  scope?: InstrumentationScope,
  resourceOnce?: ResourceAttrs,
): RRRecord | undefined {
  if (log.body && 'spans' in log.body && (log.body as JsonBody).exact) {
    const rec = jsonBodyRecord(log.body as JsonBody, log, resourceOnce ?? new ResourceAttrs(resourceAttrs), scope);
    if (rec) return rec;
  }
  let body = fromAnyValue(log.body);
  if (typeof body === 'string') {
    if (!looksLikeJsonObject(body) || jsonTooDeep(body, MAX_DEPTH)) return undefined;
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!isRRPairBody(body)) return undefined;
  const rr = body as RRPair;
  const attributes = attrsOf(log.attributes);
  const resource = attrsOf(resourceAttrs);
  const from: Record<(typeof IDENTITY_FIELDS)[number], Attrs> = { cluster: resource, namespace: attributes, service: attributes };
  for (const f of IDENTITY_FIELDS) {
    const v = from[f][f] ?? attributes[f] ?? resource[f];
    if (isUnset(rr[f]) && typeof v === 'string' && !isUnset(v)) rr[f] = v;
  }
  const t = unixNanoString(log.timeUnixNano);
  return newRecord(rr, { resource, attributes, ...(t ? { timeUnixNano: t } : {}), ...(scope ? { scope } : {}) });
}

/** Index in BODY_KEYS (so in JsonBody.spans) of each key. */
const KEY = Object.fromEntries(BODY_KEYS.map((k, i) => [k, i])) as Record<(typeof BODY_KEYS)[number], number>;
/** BODY_KEYS up to here are the ones a record knows without parsing (rrpairField): the identity fields, ts, direction, l7protocol. */
const KNOWN_KEYS = KEY.l7protocol + 1;
/** The only top-level keys a record read from OTLP knows without parsing (rrpairField). */
export const KNOWN_RRPAIR_KEYS: readonly string[] = BODY_KEYS.slice(0, KNOWN_KEYS);
const RRPAIR_JSON = Buffer.from('"rrpair"');
/** A value known to be an object or array: not decoded for `known`. */
const OBJECT = Symbol('object');

/** The first byte of a top-level value's JSON: 0 absent, else `"`, `{`, `[`, `n` (null), a digit… */
function firstByte(jb: JsonBody, key: number): number {
  const at = jb.spans[2 * key]!;
  return at < 0 ? 0 : jb.json[at]!;
}

/** isRRPairBody of the object a body's JSON is, told from its top-level values without parsing it. */
export function isRRPairJson(jb: JsonBody): boolean {
  const at = jb.spans[2 * KEY.msgType]!;
  if (at >= 0 && jb.spans[2 * KEY.msgType + 1]! - at === RRPAIR_JSON.length && jb.json.compare(RRPAIR_JSON, 0, RRPAIR_JSON.length, at, at + RRPAIR_JSON.length) === 0) return true;
  const isString = (key: number) => firstByte(jb, key) === 0x22;
  const h = firstByte(jb, KEY.http);
  // typeof null and typeof [] are 'object' too.
  return isString(KEY.ts) && (isString(KEY.l7protocol) || isString(KEY.uuid) || h === 0x7b || h === 0x5b || h === 0x6e);
}

/** A top-level value of a body's JSON: undefined when absent, OBJECT for an object or array. */
function topValue(jb: JsonBody, key: number): unknown {
  const s = jb.spans[2 * key]!;
  if (s < 0) return undefined;
  const e = jb.spans[2 * key + 1]!;
  const b = jb.json;
  const c = b[s]!;
  if (c === 0x7b || c === 0x5b) return OBJECT;
  if (c === 0x22) {
    let i = s + 1;
    while (i < e - 1 && b[i]! !== 0x5c && b[i]! < 0x80) i++;
    if (i === e - 1) return b.toString('latin1', s + 1, e - 1);
  }
  return JSON.parse(b.toString('utf8', s, e));
}

/**
 * logRecordToRecord for a kvlist body the protobuf reader wrote as JSON, without parsing it: the
 * body is told an RRPair from its top-level values, the identity fields are filled in the text (a
 * value replaced where it stands, an absent field added at the end, where `rr[f] = v` puts it),
 * and the record gets the text as its RRPair JSON, parsed only if something reads the RRPair.
 * Undefined when the body is not an RRPair (the caller's general path decides what then).
 */
function jsonBodyRecord(jb: JsonBody, log: { attributes?: KeyValue[]; timeUnixNano?: unknown }, resourceAttrs: ResourceAttrs, scope?: InstrumentationScope): RRRecord | undefined {
  if (!isRRPairJson(jb)) return undefined;
  const attributes = attrsOf(log.attributes);
  const resource = resourceAttrs.copy();
  const from: Record<(typeof IDENTITY_FIELDS)[number], Attrs> = { cluster: resource, namespace: attributes, service: attributes };
  const known: Record<string, unknown> = {};
  let fills: [number, string][] | undefined;
  for (let i = 0; i < IDENTITY_FIELDS.length; i++) {
    const f = IDENTITY_FIELDS[i]!;
    const cur = topValue(jb, i);
    let v: unknown = cur;
    if (isUnset(cur)) {
      const a = from[f][f] ?? attributes[f] ?? resource[f];
      if (typeof a === 'string' && !isUnset(a)) (fills ??= []).push([i, (v = a)]);
    }
    if (v !== OBJECT) known[f] = v;
  }
  for (let i = IDENTITY_FIELDS.length; i < KNOWN_KEYS; i++) {
    const v = topValue(jb, i);
    if (v !== OBJECT) known[BODY_KEYS[i]!] = v;
  }
  const t = unixNanoString(log.timeUnixNano);
  return newRecordFromJson(fills ? filledIn(jb, fills) : jb.json, known, { resource, attributes, ...(t ? { timeUnixNano: t } : {}), ...(scope ? { scope } : {}) });
}

/** The body's JSON with these identity fields set: where they stand (in text order), else added before the closing brace. */
function filledIn(jb: JsonBody, fills: [number, string][]): Buffer {
  const b = jb.json;
  const sp = jb.spans;
  const present = fills.filter(([i]) => sp[2 * i]! >= 0).sort(([i], [j]) => sp[2 * i]! - sp[2 * j]!);
  const texts = present.map(([, v]) => JSON.stringify(v));
  const added = fills.filter(([i]) => sp[2 * i]! < 0).map(([i, v]) => `,${JSON.stringify(IDENTITY_FIELDS[i])}:${JSON.stringify(v)}`).join('');
  let size = b.length + Buffer.byteLength(added);
  for (let k = 0; k < present.length; k++) size += Buffer.byteLength(texts[k]!) - (sp[2 * present[k]![0] + 1]! - sp[2 * present[k]![0]]!);
  const o = slabBuffer(size);
  let at = 0;
  let w = 0;
  for (let k = 0; k < present.length; k++) {
    const i = present[k]![0];
    w += b.copy(o, w, at, sp[2 * i]!);
    w += o.write(texts[k]!, w);
    at = sp[2 * i + 1]!;
  }
  w += b.copy(o, w, at, b.length - 1);
  w += o.write(added, w);
  o[w] = 0x7d; // }
  return o;
}

/** Slabs filled-in bodies are cut from: one ArrayBuffer for many records rather than one each. */
const SLAB = 1 << 20;
let slab = Buffer.alloc(0);
let slabAt = 0;

function slabBuffer(n: number): Buffer {
  if (n > SLAB >>> 4) return Buffer.allocUnsafeSlow(n);
  if (slabAt + n > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB);
    slabAt = 0;
  }
  const b = slab.subarray(slabAt, slabAt + n);
  slabAt += n;
  return b;
}

/** The scope of a ScopeLogs entry, when it names one (an empty scope is no scope, as in OTLP). */
function scopeOf(sl: { scope?: unknown }): InstrumentationScope | undefined {
  const sc = sl.scope as { name?: unknown; version?: unknown } | undefined;
  if (typeof sc !== 'object' || sc === null) return undefined;
  const name = typeof sc.name === 'string' ? sc.name : '';
  const version = typeof sc.version === 'string' && sc.version ? sc.version : undefined;
  if (!name && !version) return undefined;
  return version ? { name, version } : { name };
}

/** A LogRecord's time_unix_nano as a decimal string; undefined when absent or 0 (unset in OTLP). */
function unixNanoString(v: unknown): string | undefined {
  let s: string | undefined;
  if (typeof v === 'string' && /^\d+$/.test(v)) s = v.replace(/^0+/, '');
  else if (typeof v === 'bigint' && v > 0n) s = v.toString();
  else if (typeof v === 'number' && Number.isFinite(v) && v > 0) s = BigInt(Math.trunc(v)).toString();
  else if (v && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function') {
    const t = String(v); // protobufjs Long
    if (/^\d+$/.test(t)) s = t.replace(/^0+/, '');
  }
  return s ? s : undefined;
}

function looksLikeJsonObject(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    return c === 123; // {
  }
  return false;
}

/** Whether a JSON text nests brackets deeper than `max` (checked before parsing, without recursion). */
export function jsonTooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** An object that looks like an RRPair: it says so, or carries the fields every RRPair has. */
export function isRRPairBody(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (o.msgType === 'rrpair') return true;
  return typeof o.ts === 'string' && (typeof o.l7protocol === 'string' || typeof o.uuid === 'string' || typeof o.http === 'object');
}

/** Resource attributes of a record for OTLP output: cluster from the RRPair when the record has none. */
export function resourceAttrsOf(r: RRRecord): Attrs {
  const out: Attrs = { ...r.resource };
  if (out.cluster === undefined && !isUnset(r.rrpair.cluster)) out.cluster = r.rrpair.cluster!;
  return out;
}

/** Log attributes of a record for OTLP output: service and namespace as the forwarder sets them. */
export function logAttrsOf(r: RRRecord): Attrs {
  const out: Attrs = { ...r.attributes };
  if (out.service === undefined && !isUnset(r.rrpair.service)) out.service = r.rrpair.service!;
  if (out.namespace === undefined && !isUnset(r.rrpair.namespace)) out.namespace = r.rrpair.namespace!;
  return out;
}

/** Event time of an RRPair in unix nanoseconds (as a decimal string), or undefined. */
export function tsNanos(ts: string | undefined): string | undefined {
  if (!ts) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/.exec(ts);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return (BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0')).toString();
}

/**
 * A batch as one OTLP JSON ExportLogsServiceRequest document (what the OTel awss3 and azure_blob
 * exporters write with the otlp_json marshaler): records grouped by resource.
 */
export function recordsToOtlpJson(batch: RRRecord[], scopeName = 'rrpipe'): object {
  const byResource = new Map<string, { attrs: Attrs; scopes: Map<string, { scope: InstrumentationScope; logs: object[] }> }>();
  for (const r of batch) {
    const attrs = resourceAttrsOf(r);
    const key = JSON.stringify(attrs);
    let g = byResource.get(key);
    if (!g) byResource.set(key, (g = { attrs, scopes: new Map() }));
    // A record keeps the scope it came in under (as the Collector relays it); rrpipe's own otherwise.
    const scope = r.scope ?? { name: scopeName };
    const sk = `${scope.name}\u0000${scope.version ?? ''}`;
    let sg = g.scopes.get(sk);
    if (!sg) g.scopes.set(sk, (sg = { scope, logs: [] }));
    const t = r.timeUnixNano ?? tsNanos(r.rrpair.ts);
    sg.logs.push({
      ...(t ? { timeUnixNano: t } : {}),
      observedTimeUnixNano: r.observedNs.toString(),
      body: toAnyValue(r.rrpair),
      attributes: toKeyValues(logAttrsOf(r)),
    });
  }
  return {
    resourceLogs: [...byResource.values()].map((g) => ({
      resource: { attributes: toKeyValues(g.attrs) },
      scopeLogs: [...g.scopes.values()].map((sg) => ({ scope: { ...sg.scope }, logRecords: sg.logs })),
    })),
  };
}

/** The inverse of recordsToOtlpJson; records whose body is not an RRPair are counted in `skipped`. */
export function otlpJsonToRecords(doc: unknown): { records: RRRecord[]; skipped: number } {
  const records: RRRecord[] = [];
  let skipped = 0;
  const rls = (doc as { resourceLogs?: unknown[] })?.resourceLogs;
  if (!Array.isArray(rls)) throw new OtlpMappingError('not an OTLP logs document (no resourceLogs)');
  for (const rl of rls as { resource?: { attributes?: KeyValue[] }; scopeLogs?: { scope?: unknown; logRecords?: object[] }[] }[]) {
    for (const sl of rl.scopeLogs ?? []) {
      const scope = scopeOf(sl);
      for (const lr of sl.logRecords ?? []) {
        const rec = logRecordToRecord(lr as Parameters<typeof logRecordToRecord>[0], rl.resource?.attributes, scope);
        if (rec) records.push(rec);
        else skipped++;
      }
    }
  }
  return { records, skipped };
}

export type NonRRPairAction = 'drop' | 'keep';

/** A LogRecord kept although its body is not an RRPair: an object body as it is, anything else under `body`. */
function nonRRPairRecord(
  log: { body?: AnyValue; attributes?: KeyValue[]; timeUnixNano?: unknown },
  resourceAttrs: KeyValue[] | undefined,
): RRRecord {
  const body = fromAnyValue(log.body);
  const rr: RRPair = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as RRPair) : { body };
  return newRecord(rr, { resource: attrsOf(resourceAttrs), attributes: attrsOf(log.attributes) });
}

export interface LogsRequestResult {
  records: RRRecord[];
  /** LogRecords whose body is not an RRPair (kept or dropped per `nonRRPair`). */
  nonRRPair: number;
  /** LogRecords dropped (not RRPairs, with nonRRPair: drop). */
  rejected: number;
  /** LogRecords refused for their own contents (a value nested too deep; in protobuf, a string not UTF-8). */
  invalid: number;
  /** Why the first of them was refused. */
  invalidReason?: string;
}

function tooDeep(err: unknown): err is OtlpMappingError {
  return err instanceof OtlpMappingError && /deeper/.test(err.message);
}


/**
 * An ExportLogsServiceRequest (OTLP/JSON shape, as from JSON.parse or decodeLogsRequest) → records.
 * Throws OtlpMappingError when the document is not an OTLP logs request or a value outside any
 * LogRecord (a resource attribute) nests too deep. A LogRecord whose own values nest too deep, or
 * that the protobuf reader left out (RejectedLogRecord), is counted in `invalid` and the others
 * are mapped.
 */
export function logsRequestToRecords(doc: unknown, opts: { nonRRPair?: NonRRPairAction } = {}): LogsRequestResult {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OtlpMappingError('not an OTLP logs request (expected an object)');
  const rls = (doc as { resourceLogs?: unknown }).resourceLogs ?? [];
  if (!Array.isArray(rls)) throw new OtlpMappingError('resourceLogs must be an array');
  const out: LogsRequestResult = { records: [], nonRRPair: 0, rejected: 0, invalid: 0 };
  const invalid = (reason: string) => {
    out.invalid++;
    out.invalidReason ??= reason;
  };
  for (const rl of rls as { resource?: { attributes?: KeyValue[] }; scopeLogs?: { scope?: unknown; logRecords?: object[] }[] }[]) {
    // Arrays are objects too: {"resourceLogs":[[…]]} would otherwise pass as an empty entry.
    if (typeof rl !== 'object' || rl === null || Array.isArray(rl)) throw new OtlpMappingError('resourceLogs entries must be objects');
    const resAttrs = rl.resource?.attributes;
    if (resAttrs !== undefined && !Array.isArray(resAttrs)) throw new OtlpMappingError('resource.attributes must be an array');
    const sls = rl.scopeLogs ?? [];
    if (!Array.isArray(sls)) throw new OtlpMappingError('scopeLogs must be an array');
    // Read once for all its LogRecords, and first: a resource value nesting too deep refuses the request.
    const resourceOnce = new ResourceAttrs(resAttrs);
    resourceOnce.read();
    for (const sl of sls) {
      if (typeof sl !== 'object' || sl === null || Array.isArray(sl)) throw new OtlpMappingError('scopeLogs entries must be objects');
      const lrs = sl.logRecords ?? [];
      if (!Array.isArray(lrs)) throw new OtlpMappingError('logRecords must be an array');
      const scope = scopeOf(sl);
      for (const lr of lrs as Parameters<typeof logRecordToRecord>[0][]) {
        if (lr instanceof RejectedLogRecord) {
          invalid(lr.message);
          continue;
        }
        if (typeof lr !== 'object' || lr === null || Array.isArray(lr)) throw new OtlpMappingError('logRecords entries must be objects');
        if (lr.attributes !== undefined && !Array.isArray(lr.attributes)) throw new OtlpMappingError('attributes must be an array');
        let rec: RRRecord | undefined;
        let kept: RRRecord | undefined;
        try {
          rec = logRecordToRecord(lr, resAttrs, scope, resourceOnce);
          if (!rec && opts.nonRRPair === 'keep') kept = nonRRPairRecord(lr, resAttrs);
        } catch (err) {
          // A value of this record nests too deep (the resource's were read above): it alone is refused.
          if (!tooDeep(err)) throw err;
          invalid(err.message);
          continue;
        }
        if (rec) {
          out.records.push(rec);
          continue;
        }
        out.nonRRPair++;
        if (kept) out.records.push(kept);
        else out.rejected++;
      }
    }
  }
  return out;
}
