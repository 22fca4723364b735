import { isRRPairBody, MAX_DEPTH } from './otlp.js';
import type { RRPair } from './types.js';

export class MalformedRecordError extends Error {
  override name = 'MalformedRecordError';
}

/**
 * Parse one raw.jsonl line into an RRPair object, or throw MalformedRecordError saying why. The
 * line must be an RRPair by the otlp receiver's test (isRRPairBody) and nest no deeper than its
 * limit (MAX_DEPTH), so a record that will fail later (a stack overflow in redaction or
 * serialization) is refused here. The error message never quotes the line: it reaches logs and
 * dead letters, where a credential in a malformed line must not land in clear.
 */
export function parseRRPairLine(line: string): RRPair {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new MalformedRecordError(jsonSyntaxError(line));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new MalformedRecordError(`expected a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  }
  if (!isRRPairBody(v)) throw new MalformedRecordError('not an RRPair (neither msgType "rrpair" nor a ts string with l7protocol, uuid or http)');
  if (nestedDeeperThan(v, MAX_DEPTH)) throw new MalformedRecordError(`value nested deeper than ${MAX_DEPTH} levels`);
  return v as RRPair;
}

/**
 * Whether a parsed JSON value nests objects and arrays deeper than `max` (the top-level object or
 * array is level 1): the same answer jsonTooDeep (otlp.ts) gives for its text, got from the
 * parsed value, whose walk costs a fraction of a scan of the text (base64 bodies are one string
 * each). Recurses at most `max` + 1 levels, whatever the depth of the value.
 */
export function nestedDeeperThan(v: unknown, max: number, depth = 1): boolean {
  if (depth > max) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null && nestedDeeperThan(x, max, depth + 1)) return true;
    }
    return false;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'object' && x !== null && nestedDeeperThan(x, max, depth + 1)) return true;
  }
  return false;
}

/**
 * Why JSON.parse refused `text`, as "invalid JSON at byte N: <what>", where <what> is one of a
 * few fixed phrases. V8's own message quotes a snippet of the input (`Unexpected token 'L',
 * ..."api_key": LOGLEAK_sk"...`), which must not reach logs or dead-letter reasons. Only called
 * on text JSON.parse refused; walks it once, without recursion.
 */
export function jsonSyntaxError(text: string): string {
  const err = locateJsonError(text);
  if (!err) return 'invalid JSON';
  return `invalid JSON at byte ${Buffer.byteLength(text.slice(0, err.at))}: ${err.what}`;
}

const OBJ = 123; // {
const ARR = 91; // [

function locateJsonError(s: string): { at: number; what: string } | undefined {
  const n = s.length;
  let i = 0;
  const stack: number[] = [];
  const ws = () => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (what: string) => ({ at: i, what: i >= n ? 'unexpected end of input' : what });
  /** A string starting at i; undefined when whole (i is then past it), else what is wrong. */
  const str = (): string | undefined => {
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return undefined;
      }
      if (c < 0x20) return 'control character in a string';
      if (c === 92) {
        i++;
        const e = s.charCodeAt(i);
        if (e === 117) {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9A-Fa-f]/.test(s.charAt(i + k))) {
              i += k;
              return 'bad \\u escape in a string';
            }
          }
          i += 5;
        } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) i++;
        else return i >= n ? 'unterminated string' : 'bad escape in a string';
      } else i++;
    }
    return 'unterminated string';
  };
  const digits = (): boolean => {
    const from = i;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    return i > from;
  };
  const num = (): string | undefined => {
    if (s.charCodeAt(i) === 45) i++;
    if (s.charCodeAt(i) === 48) i++;
    else if (!digits()) return 'bad number';
    if (s.charCodeAt(i) === 46) {
      i++;
      if (!digits()) return 'bad number';
    }
    const e = s.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 43 || sign === 45) i++;
      if (!digits()) return 'bad number';
    }
    return undefined;
  };
  /** A key and its colon; undefined when whole. */
  const key = (): string | undefined => {
    ws();
    if (s.charCodeAt(i) !== 34) return 'expected a property name in double quotes';
    const bad = str();
    if (bad) return bad;
    ws();
    if (s.charCodeAt(i) !== 58) return "expected ':' after a property name";
    i++;
    return undefined;
  };
  for (;;) {
    // A value is expected at i.
    ws();
    if (i >= n) return fail('');
    const c = s.charCodeAt(i);
    let bad: string | undefined;
    if (c === OBJ || c === ARR) {
      i++;
      ws();
      if (s.charCodeAt(i) === (c === OBJ ? 125 : 93)) i++;
      else {
        stack.push(c);
        if (c === OBJ && (bad = key())) return fail(bad);
        continue;
      }
    } else if (c === 34) bad = str();
    else if (c === 45 || (c >= 48 && c <= 57)) bad = num();
    else if (s.startsWith('true', i)) i += 4;
    else if (s.startsWith('false', i)) i += 5;
    else if (s.startsWith('null', i)) i += 4;
    else bad = 'unexpected character';
    if (bad) return fail(bad);
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      ws();
      const top = stack[stack.length - 1];
      if (top === undefined) return i < n ? fail('unexpected character after the JSON value') : undefined;
      const d = s.charCodeAt(i);
      if (d === 44) {
        i++;
        if (top === OBJ && (bad = key())) return fail(bad);
        break;
      }
      if (d === (top === OBJ ? 125 : 93)) {
        i++;
        stack.pop();
        continue;
      }
      return fail(top === OBJ ? "expected ',' or '}' after a value" : "expected ',' or ']' after a value");
    }
  }
}

export function stringifyRRPair(rr: RRPair): string {
  return JSON.stringify(rr);
}
