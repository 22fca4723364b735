/**
 * Text the way Go's standard library writes it, so that rrpipe's Loki lines and stream labels are
 * byte for byte those of the OTel Collector's loki exporter (written in Go): JSON as
 * encoding/json.Marshal writes a map (keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped,
 * invalid UTF-16 replaced by U+FFFD) and strings as strconv.Quote (`%q`) quotes label values.
 * JSON.stringify differs on each of these points, and no npm library targets Go's output.
 */

const HTML_UNSAFE = /[<>&\u2028\u2029]/;
const HTML_UNSAFE_ALL = /[<>&\u2028\u2029]/g;
/** ES2024 String methods (Node 20 has them; the ES2023 lib does not declare them). */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };
/** Go strings are UTF-8: a lone surrogate has no encoding and becomes U+FFFD. */
const wellFormed = (s: string) => ((s as Es2024String).isWellFormed() ? s : (s as Es2024String).toWellFormed());
const hex4 = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** A JSON string literal as encoding/json writes it. */
export function goJsonString(s: string): string {
  const json = JSON.stringify(wellFormed(s));
  return HTML_UNSAFE.test(json) ? json.replace(HTML_UNSAFE_ALL, hex4) : json;
}

/**
 * encoding/json.Marshal of a value decoded from JSON (maps, slices, strings, float64, bool, nil).
 * Throws past `maxDepth` levels or on a number JSON cannot hold, as Marshal fails on NaN.
 */
export function goJson(v: unknown, maxDepth = 128): string {
  // Fast path: JSON.stringify writes strings and numbers as Go does, except for the HTML
  // characters (only ever inside strings, escaped on the result) and lone surrogates (JSON.stringify
  // writes \udXXX where Go writes U+FFFD: a value holding one takes the slow path, as does a bigint).
  // Go sorts keys: the value is copied with sorted keys first (cheaper than a replacer function).
  const sorted = sortedCopy(v, 0, maxDepth);
  if (sorted === SLOW) return enc(v, 0, maxDepth);
  const json = JSON.stringify(sorted) ?? 'null';
  return HTML_UNSAFE.test(json) ? json.replace(HTML_UNSAFE_ALL, hex4) : json;
}

const SLOW = Symbol('slow');
const isWellFormed = (s: string) => (s as Es2024String).isWellFormed();

function sortedCopy(v: unknown, depth: number, maxDepth: number): unknown {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'string') return isWellFormed(v) ? v : SLOW;
    if (typeof v === 'bigint') return SLOW;
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
    return v;
  }
  if (depth >= maxDepth) throw new Error(`value nested deeper than ${maxDepth} levels`);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = sortedCopy(v[i], depth + 1, maxDepth);
      if (x === SLOW) return SLOW;
      out[i] = x === undefined ? null : x;
    }
    return out;
  }
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    // A "__proto__" key would set the copy's prototype instead of a property.
    if (!isWellFormed(k) || k === '__proto__') return SLOW;
    const x = sortedCopy(o[k], depth + 1, maxDepth);
    if (x === SLOW) return SLOW;
    out[k] = x;
  }
  return out;
}

function enc(v: unknown, depth: number, maxDepth: number): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return goJsonString(v);
    case 'number':
      // Go and JavaScript pick the same shortest form and the same exponent thresholds (1e-6, 1e21).
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'object': {
      if (depth >= maxDepth) throw new Error(`value nested deeper than ${maxDepth} levels`);
      if (Array.isArray(v)) return `[${v.map((x) => enc(x, depth + 1, maxDepth)).join(',')}]`;
      if (v instanceof Uint8Array) return goJsonString(Buffer.from(v).toString('base64'));
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
      return `{${keys.map((k) => `${goJsonString(k)}:${enc(o[k], depth + 1, maxDepth)}`).join(',')}}`;
    }
    default:
      return 'null';
  }
}

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;
const SIMPLE_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };

/** strconv.Quote: a double-quoted Go string literal, non-printable characters escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of wellFormed(s)) {
    const simple = SIMPLE_ESCAPES[ch];
    if (simple) out += simple;
    else if (PRINTABLE.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}
