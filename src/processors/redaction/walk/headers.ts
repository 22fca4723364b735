import type { Headers } from '../../../rrpair/types.js';
import type { Pass } from '../pass.js';
import { DROP, type Out } from './out.js';

/**
 * Headers (and query parameters, which have the same shape): each value by its name. A value
 * that is neither a string nor a list of strings (a number, a nested list, an object) is read
 * loosely under its name (Pass.loose), keeping its shape.
 */
export function walkHeaders(p: Pass, h: Headers, base: string): void {
  for (const name of Object.keys(h)) {
    const vals = h[name];
    if (!Array.isArray(vals)) {
      if (typeof vals === 'string') {
        const out = headerValue(p, name, vals, `${base}.${name}.0`);
        if (out === DROP) delete h[name];
        else h[name] = [out] as never;
      } else if (vals !== null && vals !== undefined) h[name] = p.loose(vals, name, `${base}.${name}`) as never;
      continue;
    }
    // in place; values dropped are removed after the walk
    let dropped = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (typeof v !== 'string') {
        if (v !== null && v !== undefined) vals[i] = p.loose(v, name, `${base}.${name}.${i}`) as never;
        continue;
      }
      const r = headerValue(p, name, v, `${base}.${name}.${i}`);
      if (r === DROP) {
        vals[i] = DROP as never;
        dropped++;
      } else vals[i] = r;
    }
    if (dropped === 0) continue;
    if (dropped === vals.length) delete h[name];
    else h[name] = vals.filter((v) => (v as unknown) !== DROP);
  }
}

/** One header value by its name: allowed, cookies, key rules, then the detectors. */
export function headerValue(p: Pass, name: string, v: string, path: string): Out {
  if (p.r.keyAllowed(name)) return v;
  const cookie = cookieHeader(name);
  if (cookie !== 0 && !p.r.pathRule(path)) return cookies(p, v, path, cookie === SET_COOKIE);
  return p.value(v, name, path);
}

const COOKIE = 1;
export const SET_COOKIE = 2;

/**
 * COOKIE or SET_COOKIE for the names whose toLowerCase() is `cookie` or `set-cookie`, else 0,
 * without a lower-case copy of every name. Lower-casing never shortens a string and only ASCII
 * letters and the Kelvin sign become those ASCII letters, so only these two lengths can match.
 */
export function cookieHeader(name: string): number {
  if (name.length === 6) return equalsLower(name, 'cookie') ? COOKIE : 0;
  if (name.length === 10) return equalsLower(name, 'set-cookie') ? SET_COOKIE : 0;
  return 0;
}

function equalsLower(s: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = s.charCodeAt(i);
    const l = c < 128 ? (c >= 65 && c <= 90 ? c | 32 : c) : oneCharLower(c);
    if (l !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Cookie: every pair's value; Set-Cookie: the first pair's value (attributes stay readable). */
export function cookies(p: Pass, v: string, path: string, setCookie: boolean): Out {
  const parts = v.split(';');
  const n = setCookie ? 1 : parts.length;
  for (let i = 0; i < n; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const val = part.slice(eq + 1);
    if (!val.trim() || p.r.keyAllowed(name)) continue;
    const out = p.whole(val.trim(), `${path}.${name}`, { category: 'COOKIE', action: p.r.opts.action === 'drop' ? 'mask' : p.r.opts.action });
    parts[i] = `${part.slice(0, eq + 1)}${out === DROP ? '' : out}`;
  }
  return parts.join(';');
}

/** The lower case of a non-ASCII UTF-16 unit when it is one unit (the Kelvin sign is `k`), else -1 (`İ` is `i` + a combining dot). */
function oneCharLower(c: number): number {
  const l = String.fromCharCode(c).toLowerCase();
  return l.length === 1 ? l.charCodeAt(0) : -1;
}
