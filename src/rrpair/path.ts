import type { RRRecord } from '../core/record.js';
import { bodyKind, contentTypeOf, decodeBody, utf8OrUndefined } from './body.js';
import type { RRPair } from './types.js';

/**
 * Read a value by path, in Speedscale's location syntax:
 * - `http.req.headers.Authorization.0` or `http.req.headers.Authorization[0]` (header names
 *   case-insensitive; without an index, the first value),
 * - `http.res.body.json.$.data[0].id` (the decoded JSON body, then a JSONPath of keys and indexes),
 * - any other dotted RRPair path (`tags.source`, `netinfo.upstream.hostname`),
 * - `resource.<key>` / `attributes.<key>` for the record's OTLP attributes when given a record.
 * Returns undefined when nothing is there.
 */
export function valueAt(target: RRRecord | RRPair, path: string, maxBodyBytes = 8 << 20): unknown {
  const record = 'rrpair' in target && 'observedNs' in target ? (target as RRRecord) : undefined;
  const rr = record ? record.rrpair : (target as RRPair);
  if (record) {
    if (path.startsWith('resource.')) return record.resource[path.slice(9)];
    if (path.startsWith('attributes.')) return record.attributes[path.slice(11)];
  }
  const bodyAt = /^http\.(req|res)\.body\.json\.(\$.*)$/.exec(path);
  if (bodyAt) {
    const part = rr.http?.[bodyAt[1] as 'req' | 'res'];
    if (!part || typeof part.bodyBase64 !== 'string') return undefined;
    const dec = decodeBody(part.bodyBase64, part.headers, maxBodyBytes);
    if (!dec.ok) return undefined;
    const text = utf8OrUndefined(dec.bytes);
    if (text === undefined || bodyKind(contentTypeOf(part), text) !== 'json') return undefined;
    try {
      return walk(JSON.parse(text), parseJsonPath(bodyAt[2]!));
    } catch {
      return undefined;
    }
  }
  const steps = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  const hdr = /^http\.(req|res)\.headers\.(.+)$/.exec(path.replace(/\[(\d+)\]$/, '.$1'));
  if (hdr) {
    const headers = rr.http?.[hdr[1] as 'req' | 'res']?.headers;
    if (!headers || typeof headers !== 'object') return undefined;
    let name = hdr[2]!;
    let idx = 0;
    const m = /^(.*)\.(\d+)$/.exec(name);
    if (m) {
      name = m[1]!;
      idx = Number(m[2]);
    }
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key === undefined) return undefined;
    const v = (headers as Record<string, unknown>)[key];
    return Array.isArray(v) ? v[idx] : v;
  }
  return walk(rr, steps);
}

/** `$.a.b[0]['c.d']` → ['a', 'b', 0, 'c.d']. */
export function parseJsonPath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\[['"](.*?)['"]\]/g;
  let m: RegExpExecArray | null;
  const body = p.startsWith('$') ? p.slice(1) : p;
  while ((m = re.exec(body))) out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]!));
  return out;
}

/** JSONPath text for a list of steps: ['a', 0, 'b c'] → `$.a[0]['b c']`. */
export function formatJsonPath(steps: readonly (string | number)[]): string {
  let s = '$';
  for (const k of steps) s += jsonPathStep(k);
  return s;
}

/** One step of a JSONPath: `[0]`, `.name` or `['odd name']`. */
export function jsonPathStep(k: string | number): string {
  if (typeof k === 'number') return `[${k}]`;
  return isPlainName(k) ? `.${k}` : `['${k.replace(/'/g, "\\'")}']`;
}

/** /^[A-Za-z_$][\w$-]*$/ without a regex call (paths are formatted on the tokenization hot path). */
function isPlainName(k: string): boolean {
  if (k.length === 0) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
    if (!letter && (i === 0 || !((c >= 48 && c <= 57) || c === 45))) return false;
  }
  return true;
}

function walk(v: unknown, steps: readonly (string | number)[]): unknown {
  let cur = v;
  for (const s of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      const i = typeof s === 'number' ? s : /^\d+$/.test(s) ? Number(s) : NaN;
      cur = Number.isNaN(i) ? undefined : cur[i];
    } else {
      cur = (cur as Record<string, unknown>)[String(s)];
    }
  }
  return cur;
}
