import { isUtf8 } from 'node:buffer';
/**
 * ExportLogsServiceRequest bytes straight into the OTLP/JSON shape that `logsRequestToRecords`
 * reads (lowerCamelCase keys, int64 as decimal strings, bytes as base64, enums as numbers,
 * only the fields present on the wire), as protobufjs `decode` then
 * `toObject({ longs: String, bytes: String, enums: Number, defaults: false })` would give, in one
 * pass and without building protobufjs messages first; except that AnyValues (log bodies and
 * attribute values) come as `{ plainValue }`, the plain JSON value `fromAnyValue` makes of them. Written by hand because that double object graph
 * was a third of the OTLP receiver's CPU time and most of its garbage; the schema is small and
 * fixed (opentelemetry-proto logs v1).
 *
 * Guarantees kept from the wire check it replaces: every length is checked against the end of
 * its enclosing message (nothing is read past the end), messages nest at most `maxDepth` deep
 * (so the recursion is bounded), groups and invalid wire types are refused, and a known field
 * with the wrong wire type is malformed input.
 */

export class WireError extends Error {
  constructor(message: string, readonly reason: 'malformed' | 'too_deep' | 'invalid_utf8') {
    super(message);
  }
}

/**
 * A LogRecord left out of the request because its own contents are bad (a value nested deeper
 * than MAX_VALUE_DEPTH, a string that is not UTF-8): it stands in the record's place in
 * `logRecords`, and the mapping rejects it alone (partial success) where the request used to be
 * refused whole. A class, so that nothing JSON.parse makes can pass for one.
 */
export class RejectedLogRecord {
  constructor(readonly reason: 'too_deep' | 'invalid_utf8', readonly message: string) {}
}

type Obj = Record<string, unknown>;

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
/** Strings up to this many bytes are checked for ASCII in JavaScript first (see Reader.string). */
const SHORT_STRING = 64;

class Reader {
  pos = 0;
  private words32?: Int32Array;
  constructor(readonly buf: Buffer, readonly maxDepth: number) {}

  /** The buffer's memory as 32-bit words (the whole ArrayBuffer, so word i covers its bytes 4i…4i+3). */
  get words(): Int32Array {
    return (this.words32 ??= new Int32Array(this.buf.buffer, 0, this.buf.buffer.byteLength >>> 2));
  }

  varint32(end: number): number {
    // Low 32 bits of a varint of up to 10 bytes, as protobufjs uint32() reads it.
    let v = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= end) throw new WireError('protobuf: truncated varint', 'malformed');
      const b = this.buf[this.pos++]!;
      if (shift < 32) v |= (b & 0x7f) << shift;
      if (b < 0x80) return v >>> 0;
    }
    throw new WireError('protobuf: varint longer than 10 bytes', 'malformed');
  }

  /** A varint as a signed 64-bit decimal string (int64). */
  int64(end: number): string {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= end) throw new WireError('protobuf: truncated varint', 'malformed');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, v).toString();
    }
    throw new WireError('protobuf: varint longer than 10 bytes', 'malformed');
  }

  fixed(end: number, n: number): number {
    if (this.pos + n > end) throw new WireError('protobuf: truncated fixed-width field', 'malformed');
    const p = this.pos;
    this.pos += n;
    return p;
  }

  /** The end of a length-delimited field starting here, checked against its enclosing message. */
  len(end: number): number {
    const n = this.varint32(end);
    const e = this.pos + n;
    if (e > end) throw new WireError('protobuf: truncated message (a length runs past the end)', 'malformed');
    return e;
  }

  string(end: number): string {
    const e = this.len(end);
    // Most strings of an RRPair are short ASCII (keys, header names and values): checking the
    // bytes here spares the view, the UTF-8 check and the UTF-8 decoder (ASCII is valid UTF-8).
    if (e - this.pos <= SHORT_STRING && this.ascii(e)) {
      const s = this.buf.toString('latin1', this.pos, e);
      this.pos = e;
      return s;
    }
    // proto3 strings must be UTF-8; Go's protobuf (so the OTel Collector) refuses the request
    // otherwise, where toString would replace the bad bytes with U+FFFD without a word.
    if (!isUtf8(this.buf.subarray(this.pos, e))) throw new WireError(`protobuf: a string field at byte ${this.pos} is not valid UTF-8`, 'invalid_utf8');
    const s = this.buf.toString('utf8', this.pos, e);
    this.pos = e;
    return s;
  }

  private ascii(e: number): boolean {
    const b = this.buf;
    for (let i = this.pos; i < e; i++) if (b[i]! > 0x7f) return false;
    return true;
  }

  bytes(end: number): string {
    const e = this.len(end);
    const s = this.buf.toString('base64', this.pos, e);
    this.pos = e;
    return s;
  }

  skip(wt: number, end: number): void {
    switch (wt) {
      case VARINT:
        this.varint32(end);
        return;
      case I64:
        this.fixed(end, 8);
        return;
      case LEN:
        this.pos = this.len(end);
        return;
      case I32:
        this.fixed(end, 4);
        return;
      case 3:
      case 4:
        throw new WireError('protobuf: groups are not used by OTLP', 'malformed');
      default:
        throw new WireError(`protobuf: invalid wire type ${wt}`, 'malformed');
    }
  }

  /** Read the fields of a message ending at `end`, nested `depth` deep; `field` handles known ones and returns false for unknown. */
  message(end: number, depth: number, field: (no: number, wt: number, end: number, depth: number) => boolean): void {
    this.enter(depth);
    while (this.pos < end) {
      const tag = this.varint32(end);
      const no = tag >>> 3;
      const wt = tag & 7;
      if (no === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
      if (!field(no, wt, end, depth)) this.skip(wt, end);
    }
    this.leave(end);
  }

  /** Throws when a message is nested deeper than maxDepth. */
  enter(depth: number): void {
    if (depth > this.maxDepth) throw new WireError(`protobuf: messages nested deeper than ${this.maxDepth} levels (an AnyValue deeper than ${MAX_VALUE_DEPTH})`, 'too_deep');
  }

  /** Throws unless the last field read ends exactly at its message's end. */
  leave(end: number): void {
    if (this.pos !== end) throw new WireError('protobuf: a field runs past the end of its message', 'malformed');
  }

  /** A sub-message field: its wire type must be LEN. */
  sub<T extends Obj>(wt: number, end: number, depth: number, read: (o: T, no: number, wt: number, end: number, depth: number) => boolean): T {
    expect(wt, LEN);
    const e = this.len(end);
    const o = {} as T;
    this.message(e, depth + 1, (no, w, en, d) => read(o, no, w, en, d));
    return o;
  }
}

function expect(wt: number, want: number): void {
  if (wt !== want) throw new WireError(`protobuf: wire type ${wt} where ${want} was expected`, 'malformed');
}

function push(o: Obj, key: string, v: unknown): void {
  const a = o[key] as unknown[] | undefined;
  if (a) a.push(v);
  else o[key] = [v];
}

function keyValue(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  if (no === 1) {
    expect(wt, LEN);
    o.key = r.string(end);
    return true;
  }
  if (no === 2) {
    o.value = valueField(r, wt, end, depth);
    return true;
  }
  return false;
}

/** Deeper than this many AnyValue levels, `fromAnyValue` refuses a value (otlp.ts MAX_DEPTH). */
const MAX_VALUE_DEPTH = 64;

class TooDeepForPlain extends Error {}

/**
 * An AnyValue field (a log body or an attribute value) read straight into the plain JSON value
 * `fromAnyValue` would make of it, wrapped as `{ plainValue }` so no AnyValue objects are built.
 * A value nested deeper than fromAnyValue accepts is refused with fromAnyValue's own words (the
 * limit users see is the same for protobuf and JSON): inside a LogRecord the record alone
 * (logRecordField), elsewhere (resource, scope) the request.
 */
function valueField(r: Reader, wt: number, end: number, depth: number): Obj {
  expect(wt, LEN);
  try {
    return { plainValue: plain(r, r.len(end), depth + 1, 0) };
  } catch (err) {
    if (!(err instanceof TooDeepForPlain)) throw err;
    throw new WireError(`value nested deeper than ${MAX_VALUE_DEPTH} levels`, 'too_deep');
  }
}

/** One AnyValue message ending at `end` → its plain value (fromAnyValue's rules: the first set of string, bool, int, double, array, kvlist, bytes; none: null). */
function plain(r: Reader, end: number, depth: number, valueDepth: number): unknown {
  if (valueDepth > MAX_VALUE_DEPTH) throw new TooDeepForPlain();
  if (depth > r.maxDepth) throw new WireError(`protobuf: messages nested deeper than ${r.maxDepth} levels (an AnyValue deeper than ${MAX_VALUE_DEPTH})`, 'too_deep');
  let str: string | undefined;
  let bool: boolean | undefined;
  let int: number | undefined;
  let dbl: number | undefined;
  let arr: unknown[] | undefined;
  let kvl: Record<string, unknown> | undefined;
  let bytes: string | undefined;
  while (r.pos < end) {
    const tag = r.varint32(end);
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
    switch (no) {
      case 1:
        expect(wt, LEN);
        str = r.string(end);
        break;
      case 2:
        expect(wt, VARINT);
        bool = r.varint32(end) !== 0;
        break;
      case 3:
        expect(wt, VARINT);
        int = Number(r.int64(end));
        break;
      case 4:
        expect(wt, I64);
        dbl = r.buf.readDoubleLE(r.fixed(end, 8));
        break;
      case 5: {
        expect(wt, LEN);
        const e = r.len(end);
        const list: unknown[] = arr ?? [];
        // ArrayValue { repeated AnyValue values = 1 }
        messageFields(r, e, depth + 1, (n, w, en) => {
          if (n !== 1) return false;
          expect(w, LEN);
          list.push(plain(r, r.len(en), depth + 2, valueDepth + 1));
          return true;
        });
        arr = list;
        break;
      }
      case 6: {
        expect(wt, LEN);
        const e = r.len(end);
        const obj: Record<string, unknown> = kvl ?? {};
        // KeyValueList { repeated KeyValue values = 1 }, KeyValue { string key = 1; AnyValue value = 2 }
        messageFields(r, e, depth + 1, (n, w, en) => {
          if (n !== 1) return false;
          expect(w, LEN);
          let key: string | undefined;
          let value: unknown = null;
          messageFields(r, r.len(en), depth + 2, (n2, w2, en2) => {
            if (n2 === 1) {
              expect(w2, LEN);
              key = r.string(en2);
              return true;
            }
            if (n2 === 2) {
              expect(w2, LEN);
              value = plain(r, r.len(en2), depth + 3, valueDepth + 1);
              return true;
            }
            return false;
          });
          obj[key as string] = value;
          return true;
        });
        kvl = obj;
        break;
      }
      case 7:
        expect(wt, LEN);
        bytes = r.bytes(end);
        break;
      default:
        r.skip(wt, end);
    }
  }
  r.leave(end);
  if (str !== undefined) return str;
  if (bool !== undefined) return bool;
  if (int !== undefined) return int;
  if (dbl !== undefined) return dbl;
  if (arr !== undefined) return arr;
  if (kvl !== undefined) return kvl;
  if (bytes !== undefined) return bytes;
  return null;
}

/**
 * A kvlist log body, read straight into its JSON text: the text `JSON.stringify` would give of the
 * object `plain` makes of it, kept as the record's RRPair JSON (core/record.ts): the RRPair is
 * parsed from it only when something reads it, and the file exporter writes the text as it is
 * instead of stringifying the RRPair again. Same wire checks as `plain` (lengths, depth, wire types, UTF-8).
 * Values JSON cannot carry as `plain` has them (a non-finite or negative-zero double, a
 * `__proto__` key, a key that is missing or after its value, an AnyValue with two values, a
 * value deeper than MAX_VALUE_DEPTH) make it give up (`NotJson`) and the body is read by `plain`.
 */
export interface JsonBody {
  /** The JSON text, UTF-8: a view of a buffer of the request's own (the request's bytes may be reused). */
  json: Buffer;
  /**
   * [start, end) in `json` of the values of the body's top-level keys named in BODY_KEYS (2 entries
   * per key, in that order); -1 when absent. Enough to tell an RRPair and to fill in or read its
   * identity fields without parsing the text.
   */
  spans: Int32Array;
  /** The text is exactly JSON.stringify(JSON.parse(text)): no repeated keys, no index-like keys (which objects put first). */
  exact: boolean;
}

/** The top-level keys whose value positions jsonBody notes (IDENTITY_FIELDS first, in its order). */
export const BODY_KEYS = ['cluster', 'namespace', 'service', 'ts', 'direction', 'l7protocol', 'msgType', 'uuid', 'http'] as const;

class NotJson extends Error {}

/** Per byte: 0 printable ASCII JSON writes as it is, 1 a byte of a multi-byte UTF-8 sequence, 2 one JSON escapes (`"`, `\`, control). */
const BYTE_CLASS = new Uint8Array(256).map((_, c) => (c < 0x20 || c === 0x22 || c === 0x5c ? 2 : c > 0x7f ? 1 : 0));

const SPAN_KEYS = BODY_KEYS.map((k) => Buffer.from(k));
const QUOTE = 0x22;
const KVLIST_TAG = (6 << 3) | LEN;

/**
 * The JSON being written: the bodies of one request one after another in one buffer of that
 * request's own, each body a view of it (so a body is copied once, and a batch of records holds a
 * few large buffers rather than one small one each).
 */
class JsonOut {
  buf = Buffer.alloc(0);
  pos = 0;
  exact = true;
  /** [start, length] of the keys of the kvlists being written, for the duplicate check. */
  keys = new Int32Array(512);
  nkeys = 0;

  /** A new buffer for a request of this many bytes (its bodies' JSON is about as long). */
  startRequest(size: number): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.size = size;
  }

  private size = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // Views of earlier bodies keep the old buffer; the new one gets a copy of the body being written.
    const b = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.size + 4096, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A short ASCII string (a number, true, false, null). */
  ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    for (let i = 0; i < s.length; i++) b[this.pos++] = s.charCodeAt(i);
  }

  pushKey(start: number, len: number): void {
    if (this.nkeys + 2 > this.keys.length) {
      const k = new Int32Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
    }
    this.keys[this.nkeys++] = start;
    this.keys[this.nkeys++] = len;
  }

  /** Whether the key just written at [start, start+len) equals one of the keys from index `from` on. */
  seen(from: number, start: number, len: number): boolean {
    const b = this.buf;
    for (let k = from; k < this.nkeys; k += 2) {
      if (this.keys[k + 1] !== len) continue;
      const s = this.keys[k]!;
      let i = 0;
      while (i < len && b[s + i] === b[start + i]) i++;
      if (i === len) return true;
    }
    return false;
  }
}

const out = new JsonOut();

function jsonBody(r: Reader, end: number, depth: number): JsonBody | undefined {
  const start = r.pos;
  const e = r.len(end);
  // Only kvlist bodies: a string body (RRPair JSON in a string) is parsed from that string.
  if (r.pos >= e || r.buf[r.pos] !== KVLIST_TAG) {
    r.pos = start;
    return undefined;
  }
  const from = out.pos;
  out.exact = true;
  out.nkeys = 0;
  const spans = new Int32Array(2 * BODY_KEYS.length).fill(-1);
  try {
    jsonAny(r, e, depth + 1, 0, spans);
  } catch (err) {
    if (!(err instanceof NotJson)) throw err;
    r.pos = start;
    out.pos = from;
    return undefined;
  }
  for (let i = 0; i < spans.length; i++) if (spans[i]! >= 0) spans[i]! -= from;
  return { json: out.buf.subarray(from, out.pos), spans, exact: out.exact };
}

/** One AnyValue message ending at `end`, written as JSON. `spans` is filled for the body's own top-level keys only. */
function jsonAny(r: Reader, end: number, depth: number, valueDepth: number, spans: Int32Array | undefined): void {
  if (valueDepth > MAX_VALUE_DEPTH) throw new NotJson();
  if (depth > r.maxDepth) throw new WireError(`protobuf: messages nested deeper than ${r.maxDepth} levels (an AnyValue deeper than ${MAX_VALUE_DEPTH})`, 'too_deep');
  let set = false;
  while (r.pos < end) {
    const tag = r.varint32(end);
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
    if (no >= 1 && no <= 7) {
      if (set) throw new NotJson();
      set = true;
    }
    switch (no) {
      case 1:
        expect(wt, LEN);
        jsonString(r, end);
        break;
      case 2:
        expect(wt, VARINT);
        out.ascii(r.varint32(end) !== 0 ? 'true' : 'false');
        break;
      case 3:
        expect(wt, VARINT);
        out.ascii(String(Number(r.int64(end))));
        break;
      case 4: {
        expect(wt, I64);
        const d = r.buf.readDoubleLE(r.fixed(end, 8));
        if (!Number.isFinite(d) || Object.is(d, -0)) throw new NotJson();
        out.ascii(String(d));
        break;
      }
      case 5:
        expect(wt, LEN);
        jsonArray(r, r.len(end), depth + 1, valueDepth);
        break;
      case 6:
        expect(wt, LEN);
        jsonObject(r, r.len(end), depth + 1, valueDepth, spans);
        break;
      case 7: {
        expect(wt, LEN);
        out.byte(QUOTE);
        out.ascii(r.bytes(end));
        out.byte(QUOTE);
        break;
      }
      default:
        r.skip(wt, end);
    }
  }
  r.leave(end);
  if (!set) out.ascii('null');
}

/** The end of the next `values = 1` entry of an ArrayValue or KeyValueList ending at `end` (other fields skipped); -1 at its end. */
function nextValue(r: Reader, end: number): number {
  while (r.pos < end) {
    const tag = r.varint32(end);
    const no = tag >>> 3;
    if (no === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
    if (no === 1) {
      expect(tag & 7, LEN);
      return r.len(end);
    }
    r.skip(tag & 7, end);
  }
  return -1;
}

/** ArrayValue { repeated AnyValue values = 1 } */
function jsonArray(r: Reader, end: number, depth: number, valueDepth: number): void {
  r.enter(depth);
  out.byte(0x5b);
  for (let e = nextValue(r, end), first = true; e >= 0; e = nextValue(r, end), first = false) {
    if (!first) out.byte(0x2c);
    jsonAny(r, e, depth + 1, valueDepth + 1, undefined);
  }
  r.leave(end);
  out.byte(0x5d);
}

/** KeyValueList { repeated KeyValue values = 1 }, KeyValue { string key = 1; AnyValue value = 2 } */
function jsonObject(r: Reader, end: number, depth: number, valueDepth: number, spans: Int32Array | undefined): void {
  r.enter(depth);
  out.byte(0x7b);
  const keysFrom = out.nkeys;
  for (let kvEnd = nextValue(r, end), first = true; kvEnd >= 0; kvEnd = nextValue(r, end), first = false) {
    if (!first) out.byte(0x2c);
    r.enter(depth + 1);
    let keyAt = -1;
    let valued = false;
    while (r.pos < kvEnd) {
      const t = r.varint32(kvEnd);
      const n = t >>> 3;
      if (n === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
      if (n === 1) {
        expect(t & 7, LEN);
        if (keyAt >= 0) throw new NotJson();
        keyAt = out.pos;
        jsonString(r, kvEnd);
        const kStart = keyAt + 1;
        const kLen = out.pos - keyAt - 2;
        const b = out.buf;
        if (kLen === 9 && b.toString('latin1', kStart, kStart + 9) === '__proto__') throw new NotJson();
        if (kLen > 0 && b[kStart]! >= 0x30 && b[kStart]! <= 0x39) out.exact = false;
        if (out.exact && out.seen(keysFrom, kStart, kLen)) out.exact = false;
        out.pushKey(kStart, kLen);
        out.byte(0x3a);
      } else if (n === 2) {
        expect(t & 7, LEN);
        if (keyAt < 0 || valued) throw new NotJson();
        valued = true;
        const vStart = out.pos;
        jsonAny(r, r.len(kvEnd), depth + 2, valueDepth + 1, undefined);
        if (spans) span(spans, keyAt, vStart);
      } else r.skip(t & 7, kvEnd);
    }
    r.leave(kvEnd);
    if (keyAt < 0) throw new NotJson();
    if (!valued) {
      const vStart = out.pos;
      out.ascii('null');
      if (spans) span(spans, keyAt, vStart);
    }
  }
  r.leave(end);
  out.nkeys = keysFrom;
  out.byte(0x7d);
}

/** Note where the value of a top-level key of BODY_KEYS was written. */
function span(spans: Int32Array, keyAt: number, vStart: number): void {
  const b = out.buf;
  const len = vStart - keyAt - 3; // "key":
  for (let i = 0; i < SPAN_KEYS.length; i++) {
    const k = SPAN_KEYS[i]!;
    if (k.length !== len) continue;
    let j = 0;
    while (j < len && k[j] === b[keyAt + 1 + j]) j++;
    if (j === len) {
      spans[2 * i] = vStart;
      spans[2 * i + 1] = out.pos;
      return;
    }
  }
}

const ASCII = 0;
const NON_ASCII = 1;
/** Has a byte JSON escapes (`"`, `\\`, a control character), or may have (the caller then lets JSON.stringify decide). */
const ESCAPES = 2;

/**
 * Whether a long string (base64 bodies, header values) is ASCII, has bytes above 0x7f, or has
 * bytes JSON escapes, four bytes at a time. Per 32-bit word, the classic bit tests for "has a
 * byte below 0x20" and "has a zero byte" (of w ^ 0x22…, w ^ 0x5c…) are exact about whether such a
 * byte is there; the order of the bytes in the word does not matter.
 */
function stringKindByWords(r: Reader, p: number, e: number): number {
  const b = r.buf;
  const base = b.byteOffset;
  let i = p;
  let high = 0;
  for (; i < e && ((base + i) & 3) !== 0; i++) {
    const k = BYTE_CLASS[b[i]!]!;
    if (k === 2) return ESCAPES;
    high |= k;
  }
  const w32 = r.words;
  const last = (base + e) >> 2;
  for (let wi = (base + i) >> 2; wi < last; wi++) {
    const w = w32[wi]!;
    const q = w ^ 0x22222222;
    const s = w ^ 0x5c5c5c5c;
    if ((((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) return ESCAPES;
    high |= w & 0x80808080;
  }
  let kind = high !== 0 ? NON_ASCII : ASCII;
  for (i = Math.max(i, (last << 2) - base); i < e; i++) {
    const k = BYTE_CLASS[b[i]!]!;
    if (k === 2) return ESCAPES;
    kind |= k;
  }
  return kind;
}

/**
 * A string field as a JSON string. JSON.stringify escapes only `"`, `\` and control characters
 * (valid UTF-8 has no lone surrogates), so a string without them is its own bytes in quotes.
 */
function jsonString(r: Reader, end: number): void {
  const start = r.pos;
  const e = r.len(end);
  const b = r.buf;
  const p = r.pos;
  const n = e - p;
  out.room(n + 2);
  const o = out.buf;
  let kind: number;
  if (n > SHORT_STRING) {
    kind = stringKindByWords(r, p, e);
    if (kind !== ESCAPES) b.copy(o, out.pos + 1, p, e);
  } else {
    // Short: copied while classified (what follows an escape is overwritten below).
    kind = ASCII;
    for (let i = p, w = out.pos + 1; i < e; i++, w++) {
      const c = b[i]!;
      const k = BYTE_CLASS[c]!;
      if (k === 2) {
        kind = ESCAPES;
        break;
      }
      kind |= k;
      o[w] = c;
    }
  }
  if (kind !== ESCAPES) {
    if (kind !== ASCII && !isUtf8(b.subarray(p, e))) throw new WireError(`protobuf: a string field at byte ${p} is not valid UTF-8`, 'invalid_utf8');
    o[out.pos] = QUOTE;
    o[out.pos + n + 1] = QUOTE;
    out.pos += n + 2;
    r.pos = e;
    return;
  }
  r.pos = start;
  const j = JSON.stringify(r.string(end));
  out.room(j.length * 3);
  out.pos += out.buf.write(j, out.pos, 'utf8');
}

function messageFields(r: Reader, end: number, depth: number, field: (no: number, wt: number, end: number) => boolean): void {
  r.message(end, depth, (no, wt, en) => field(no, wt, en));
}

const kv = (r: Reader) => (x: Obj, n: number, w: number, e: number, d: number) => keyValue(r, x, n, w, e, d);

function uint32(r: Reader, o: Obj, key: string, wt: number, end: number): true {
  expect(wt, VARINT);
  o[key] = r.varint32(end);
  return true;
}

function str(r: Reader, o: Obj, key: string, wt: number, end: number): true {
  expect(wt, LEN);
  o[key] = r.string(end);
  return true;
}

function logRecord(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
    case 11: {
      expect(wt, I64);
      o[no === 1 ? 'timeUnixNano' : 'observedTimeUnixNano'] = r.buf.readBigUInt64LE(r.fixed(end, 8)).toString();
      return true;
    }
    case 2:
      expect(wt, VARINT);
      o.severityNumber = r.varint32(end) | 0;
      return true;
    case 3:
      return str(r, o, 'severityText', wt, end);
    case 5:
      o.body = (wt === LEN && jsonBody(r, end, depth)) || valueField(r, wt, end, depth);
      return true;
    case 6:
      push(o, 'attributes', r.sub(wt, end, depth, kv(r)));
      return true;
    case 7:
      return uint32(r, o, 'droppedAttributesCount', wt, end);
    case 8:
      expect(wt, I32);
      o.flags = r.buf.readUInt32LE(r.fixed(end, 4));
      return true;
    case 9:
    case 10:
      expect(wt, LEN);
      o[no === 9 ? 'traceId' : 'spanId'] = r.bytes(end);
      return true;
    case 12:
      return str(r, o, 'eventName', wt, end);
    default:
      return false;
  }
}

function entityRef(r: Reader, o: Obj, no: number, wt: number, end: number): boolean {
  switch (no) {
    case 1:
      return str(r, o, 'schemaUrl', wt, end);
    case 2:
      return str(r, o, 'type', wt, end);
    case 3:
    case 4:
      expect(wt, LEN);
      push(o, no === 3 ? 'idKeys' : 'descriptionKeys', r.string(end));
      return true;
    default:
      return false;
  }
}

function resource(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
      push(o, 'attributes', r.sub(wt, end, depth, kv(r)));
      return true;
    case 2:
      return uint32(r, o, 'droppedAttributesCount', wt, end);
    case 3:
      push(o, 'entityRefs', r.sub(wt, end, depth, (x, n, w, e) => entityRef(r, x, n, w, e)));
      return true;
    default:
      return false;
  }
}

function scope(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
      return str(r, o, 'name', wt, end);
    case 2:
      return str(r, o, 'version', wt, end);
    case 3:
      push(o, 'attributes', r.sub(wt, end, depth, kv(r)));
      return true;
    case 4:
      return uint32(r, o, 'droppedAttributesCount', wt, end);
    default:
      return false;
  }
}

function scopeLogs(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
      o.scope = r.sub(wt, end, depth, (x, n, w, e, d) => scope(r, x, n, w, e, d));
      return true;
    case 2:
      push(o, 'logRecords', logRecordField(r, wt, end, depth));
      return true;
    case 3:
      return str(r, o, 'schemaUrl', wt, end);
    default:
      return false;
  }
}

/**
 * One LogRecord. Its length is checked against its ScopeLogs first, so a record whose own
 * contents are refused for depth or UTF-8 is skipped whole (the rest of its bytes unread, never
 * past its end) and stands as a RejectedLogRecord; malformed framing still refuses the request.
 */
function logRecordField(r: Reader, wt: number, end: number, depth: number): Obj | RejectedLogRecord {
  expect(wt, LEN);
  const e = r.len(end);
  const outAt = out.pos;
  const o: Obj = {};
  try {
    r.message(e, depth + 1, (no, w, en, d) => logRecord(r, o, no, w, en, d));
    return o;
  } catch (err) {
    if (!(err instanceof WireError) || err.reason === 'malformed') throw err;
    r.pos = e;
    out.pos = outAt; // the JSON written for its body so far is not kept
    return new RejectedLogRecord(err.reason, err.message);
  }
}

function resourceLogs(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
      o.resource = r.sub(wt, end, depth, (x, n, w, e, d) => resource(r, x, n, w, e, d));
      return true;
    case 2:
      push(o, 'scopeLogs', r.sub(wt, end, depth, (x, n, w, e, d) => scopeLogs(r, x, n, w, e, d)));
      return true;
    case 3:
      return str(r, o, 'schemaUrl', wt, end);
    default:
      return false;
  }
}

/** ExportLogsServiceRequest bytes → `{ resourceLogs: [...] }` in the OTLP/JSON shape. */
export function readLogsRequest(bytes: Uint8Array, maxDepth: number): { resourceLogs?: unknown[] } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, maxDepth);
  out.startRequest(buf.length);
  const doc: Obj = {};
  try {
    r.message(buf.length, 1, (no, wt, end, depth) => {
      if (no !== 1) return false;
      push(doc, 'resourceLogs', r.sub(wt, end, depth, (x, n, w, e, d) => resourceLogs(r, x, n, w, e, d)));
      return true;
    });
  } finally {
    out.startRequest(0); // the bodies hold their buffer; this module does not
  }
  return doc as { resourceLogs?: unknown[] };
}
