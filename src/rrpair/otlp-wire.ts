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

type Obj = Record<string, unknown>;

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
/** Strings up to this many bytes are checked for ASCII in JavaScript first (see Reader.string). */
const SHORT_STRING = 64;

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly maxDepth: number) {}

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
    if (depth > this.maxDepth) throw new WireError(`protobuf: messages nested deeper than ${this.maxDepth} levels`, 'too_deep');
    while (this.pos < end) {
      const tag = this.varint32(end);
      const no = tag >>> 3;
      const wt = tag & 7;
      if (no === 0) throw new WireError('protobuf: invalid field number 0', 'malformed');
      if (!field(no, wt, end, depth)) this.skip(wt, end);
    }
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

function anyValue(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  switch (no) {
    case 1:
      expect(wt, LEN);
      o.stringValue = r.string(end);
      return true;
    case 2:
      expect(wt, VARINT);
      o.boolValue = r.varint32(end) !== 0;
      return true;
    case 3:
      expect(wt, VARINT);
      o.intValue = r.int64(end);
      return true;
    case 4: {
      expect(wt, I64);
      o.doubleValue = r.buf.readDoubleLE(r.fixed(end, 8));
      return true;
    }
    case 5:
      o.arrayValue = r.sub(wt, end, depth, (a, n, w, e, d) => n === 1 && (push(a, 'values', r.sub(w, e, d, (x, n2, w2, e2, d2) => anyValue(r, x, n2, w2, e2, d2))), true));
      return true;
    case 6:
      o.kvlistValue = r.sub(wt, end, depth, (l, n, w, e, d) => n === 1 && (push(l, 'values', r.sub(w, e, d, (x, n2, w2, e2, d2) => keyAnyValue(r, x, n2, w2, e2, d2))), true));
      return true;
    case 7:
      expect(wt, LEN);
      o.bytesValue = r.bytes(end);
      return true;
    default:
      return false;
  }
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

/** A KeyValue inside an AnyValue read as AnyValues (the fallback for values too deep to read plain). */
function keyAnyValue(r: Reader, o: Obj, no: number, wt: number, end: number, depth: number): boolean {
  if (no === 1) {
    expect(wt, LEN);
    o.key = r.string(end);
    return true;
  }
  if (no === 2) {
    o.value = r.sub(wt, end, depth, (x, n, w, e, d) => anyValue(r, x, n, w, e, d));
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
 * A value nested deeper than fromAnyValue accepts is read again as an AnyValue, so that the
 * mapping refuses it as it always did.
 */
function valueField(r: Reader, wt: number, end: number, depth: number): Obj {
  expect(wt, LEN);
  const start = r.pos;
  try {
    return { plainValue: plain(r, r.len(end), depth + 1, 0) };
  } catch (err) {
    if (!(err instanceof TooDeepForPlain)) throw err;
    r.pos = start;
    return r.sub(wt, end, depth, (x, n, w, e, d) => anyValue(r, x, n, w, e, d));
  }
}

/** One AnyValue message ending at `end` → its plain value (fromAnyValue's rules: the first set of string, bool, int, double, array, kvlist, bytes; none: null). */
function plain(r: Reader, end: number, depth: number, valueDepth: number): unknown {
  if (valueDepth > MAX_VALUE_DEPTH) throw new TooDeepForPlain();
  if (depth > r.maxDepth) throw new WireError(`protobuf: messages nested deeper than ${r.maxDepth} levels`, 'too_deep');
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
  if (r.pos !== end) throw new WireError('protobuf: a field runs past the end of its message', 'malformed');
  if (str !== undefined) return str;
  if (bool !== undefined) return bool;
  if (int !== undefined) return int;
  if (dbl !== undefined) return dbl;
  if (arr !== undefined) return arr;
  if (kvl !== undefined) return kvl;
  if (bytes !== undefined) return bytes;
  return null;
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
      o.body = valueField(r, wt, end, depth);
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
      push(o, 'logRecords', r.sub(wt, end, depth, (x, n, w, e, d) => logRecord(r, x, n, w, e, d)));
      return true;
    case 3:
      return str(r, o, 'schemaUrl', wt, end);
    default:
      return false;
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
  const out: Obj = {};
  r.message(buf.length, 1, (no, wt, end, depth) => {
    if (no !== 1) return false;
    push(out, 'resourceLogs', r.sub(wt, end, depth, (x, n, w, e, d) => resourceLogs(r, x, n, w, e, d)));
    return true;
  });
  return out as { resourceLogs?: unknown[] };
}
