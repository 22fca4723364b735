import type { CompareOp } from './ast.js';

/**
 * OTTL values in JavaScript: string, boolean, int64 as `bigint`, float64 as `number`, nil as
 * `null`/`undefined`, maps as plain objects, lists as arrays, byte slices as Uint8Array.
 * Numbers read from a record are JSON numbers and count as float64 (the Speedscale forwarder
 * sends RRPair numbers as OTLP doubles); integer literals and Int() results are int64.
 */
export type Value = unknown;

/** obj[key] = value, also for the key "__proto__" (an own property, never the prototype). */
export function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

export function isNil(v: Value): v is null | undefined {
  return v === null || v === undefined;
}

export function isMap(v: Value): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function isNumeric(v: Value): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

export function typeName(v: Value): string {
  if (isNil(v)) return 'nil';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'slice';
  return 'map';
}

/** Equality as OTTL defines it: same kind only (int and double compare as numbers), maps and lists deeply. */
export function equal(a: Value, b: Value): boolean {
  if (isNil(a) || isNil(b)) return isNil(a) && isNil(b);
  if (isNumeric(a) && isNumeric(b)) return typeof a === typeof b ? a === b : Number(a) === Number(b);
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object') return a === b;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  const ka = Object.keys(a as object);
  const mb = b as Record<string, unknown>;
  return ka.length === Object.keys(mb).length && ka.every((k) => Object.prototype.hasOwnProperty.call(mb, k) && equal((a as Record<string, unknown>)[k], mb[k]));
}

/** -1, 0, 1 for two values OTTL can order (numbers, strings, bools, bytes), or undefined when it cannot. */
function order(a: Value, b: Value): number | undefined {
  if (isNumeric(a) && isNumeric(b)) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : undefined;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // Go compares strings byte by byte (UTF-8); Buffer.compare does the same.
    return Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return undefined;
}

/**
 * A comparison by OTTL's rules (pkg/ottl LANGUAGE.md, "Comparison Rules"): values of different
 * kinds are "not equal" (`!=` true, every other operator false), nil equals only nil, maps and
 * lists support only == and !=.
 */
export function compare(op: CompareOp, a: Value, b: Value): boolean {
  if (op === '==') return equal(a, b);
  if (op === '!=') return !equal(a, b);
  const o = order(a, b);
  if (o === undefined) return false;
  switch (op) {
    case '<':
      return o < 0;
    case '<=':
      return o <= 0;
    case '>':
      return o > 0;
    default:
      return o >= 0;
  }
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64) for the common range; exponent form only where Go would need 300+ digits. */
export function formatFloat(f: number): string {
  if (!Number.isFinite(f)) return Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
  const s = String(f);
  if (!/e/i.test(s)) return s;
  // Expand 1e+21 / 1e-7 to plain digits as Go's 'f' format does.
  const [mant, expS] = s.split(/e/i) as [string, string];
  const exp = Number(expS);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const point = (mant.replace('-', '').indexOf('.') === -1 ? mant.replace('-', '').length : mant.replace('-', '').indexOf('.')) + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? '-' : '') + out;
}

/** JSON with map keys sorted, as Go's encoding/json writes a map. */
export function toJson(v: Value): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return Number(x);
    if (x instanceof Uint8Array) return Buffer.from(x).toString('base64');
    if (isMap(x)) return Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]]));
    return x;
  });
}

/**
 * A value as a string, the way OTTL's IsMatch and the attributes processor's convert read one
 * (pcommon.Value.AsString): numbers with strconv, bools as true/false, maps and lists as JSON.
 */
export function asString(v: Value): string | undefined {
  if (isNil(v)) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return toJson(v);
}

/**
 * A value as it is stored in a record: int64 becomes a JSON number, maps and lists are copied
 * (so a later edit of the source does not change the copy), byte slices become base64 text.
 */
export function toStored(v: Value): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(toStored);
  if (isMap(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) put(out, k, toStored(x));
    return out;
  }
  return v;
}

/** strconv.ParseInt(s, 10, 64): optional sign and decimal digits only, within int64. */
export function parseIntStrict(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > 9223372036854775807n || n < -9223372036854775808n ? undefined : n;
}

/** strconv.ParseFloat(s, 64): decimal or exponent notation, Inf and NaN. */
export function parseFloatStrict(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  return undefined;
}
