import { randomUUID } from 'node:crypto';
import { mapFields } from './token-fields.js';
import { dateFormat, decodeJwt, encodeJwt, PATTERNS, shiftDate, type TokenEntry } from './token-values.js';
import type { RRPair } from './types.js';

/*
 * Rendering tokens: parameterize replaces found values by placeholders; render fills them
 * (dates shifted, JWTs re-dated and re-signed, UUIDs fresh) into a replayable RRPair.
 */

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const PLACEHOLDER = (n: number) => `{{rrp:${n}}}`;

/**
 * Replace every token value in the RRPair by a placeholder (the same value, the same
 * placeholder), keeping the original in the entries. A field that already holds "{{rrp:" is
 * left alone (its entries get no placeholder), so rendering can never confuse the two.
 */
export function parameterize(rr: RRPair, entries: TokenEntry[]): void {
  const byValue = new Map<string, { ph: string; number: boolean }>();
  let n = 0;
  const existing = JSON.stringify(rr);
  for (const e of entries) {
    if (e.placeholder) continue;
    const v = Buffer.from(e.replacementValue, 'base64').toString('utf8');
    const key = `${e.jsonNumber ? 'n' : 's'}:${v}`;
    let p = byValue.get(key);
    if (!p) {
      while (existing.includes(PLACEHOLDER(n))) n++;
      p = { ph: PLACEHOLDER(n++), number: !!e.jsonNumber };
      byValue.set(key, p);
    }
    e.placeholder = p.ph;
  }
  if (!byValue.size) return;
  // longest values first, so a value inside another is not split
  const subs = [...byValue.entries()].map(([k, p]) => ({ v: k.slice(2), ...p })).sort((a, b) => b.v.length - a.v.length);
  mapFields(rr, (s, where) => {
    if (s.includes('{{rrp:') && !subs.some((x) => s.includes(x.ph))) return s;
    let out = s;
    for (const x of subs) {
      if (x.number) {
        if (where.json) out = out.replace(new RegExp(`(?<=[:\\[,]\\s*)${escapeRe(x.v)}(?=\\s*[,}\\]])`, 'g'), `"${x.ph}"`);
      } else if (out.includes(x.v) && (!where.json || JSON.stringify(x.v) === `"${x.v}"`)) {
        out = out.split(x.v).join(x.ph);
      }
    }
    return out;
  });
}

export interface RenderOptions {
  /** Move dates and JWT time claims by this many milliseconds. */
  offsetMs?: number;
  /** Re-sign JWTs with HS256 and this key; without it, changed JWTs are left unsigned (alg none). */
  jwtKey?: string;
  /** Replace UUIDs by fresh ones (consistently within one render call). */
  freshUuids?: boolean;
  /** Field holding the entries (default "tokens"). */
  field?: string;
}

/**
 * A replayable RRPair from a tokenized one: placeholders filled, dates shifted, JWTs re-dated
 * and re-signed. With offset 0, no key and no fresh UUIDs, render(parameterize(x)) is x.
 * Entries written by parameterize are removed; annotate-mode entries stay.
 */
export function render(input: RRPair, opts: RenderOptions = {}): { rrpair: RRPair; warnings: string[] } {
  const rr = structuredClone(input);
  const field = opts.field ?? 'tokens';
  const entries = Array.isArray(rr[field]) ? (rr[field] as TokenEntry[]).filter((e) => e && typeof e === 'object' && typeof e.replacementValue === 'string') : [];
  const warnings: string[] = [];
  const offset = opts.offsetMs ?? 0;
  const uuids = new Map<string, string>();
  const materialize = (e: TokenEntry): string => {
    const v = Buffer.from(e.replacementValue, 'base64').toString('utf8');
    switch (e.pattern) {
      case PATTERNS.DATE:
        return shiftDate(v, e.format ?? dateFormat(e.jsonNumber ? Number(v) : v) ?? '', offset);
      case PATTERNS.JWT: {
        if (offset === 0 && !opts.jwtKey) return v;
        const d = decodeJwt(v);
        if (!d) return v;
        const claims = { ...d.claims };
        for (const c of ['exp', 'iat', 'nbf']) if (typeof claims[c] === 'number') claims[c] = (claims[c] as number) + Math.round(offset / 1000);
        if (!opts.jwtKey) warnings.push(`${e.location}: JWT re-dated without a signing key; left unsigned (alg "none")`);
        return encodeJwt(d.header, claims, opts.jwtKey);
      }
      case PATTERNS.UUID: {
        if (!opts.freshUuids) return v;
        let u = uuids.get(v.toLowerCase());
        if (!u) uuids.set(v.toLowerCase(), (u = randomUUID()));
        return v === v.toUpperCase() ? u.toUpperCase() : u;
      }
      default:
        return v;
    }
  };
  // annotate-mode entries: parameterize them now, then fill like the others
  const pending = entries.filter((e) => !e.placeholder);
  const ours = new Set(entries.filter((e) => e.placeholder));
  parameterize(rr, pending);
  const fills = new Map<string, { value: string; number: boolean }>();
  for (const e of entries) if (e.placeholder && !fills.has(e.placeholder)) fills.set(e.placeholder, { value: materialize(e), number: !!e.jsonNumber });
  mapFields(rr, (s, where) => {
    if (!s.includes('{{rrp:')) return s;
    return s.replace(/"?\{\{rrp:\d+\}\}"?/g, (m) => {
      const quoted = m.startsWith('"') && m.endsWith('"') && m.length > 2;
      const ph = m.replace(/^"|"$/g, '');
      const f = fills.get(ph);
      if (!f) return m;
      if (f.number && where.json && quoted) return f.value;
      const inner = where.json ? JSON.stringify(f.value).slice(1, -1) : f.value;
      return m.startsWith('"') && m.endsWith('"') && m.length > 2 ? `"${inner}"` : m.replace(ph, inner);
    });
  });
  if (Array.isArray(rr[field])) {
    const rest = (rr[field] as TokenEntry[]).filter((e) => !ours.has(e) && !(e && pending.includes(e)));
    for (const e of pending) delete e.placeholder;
    const kept = [...rest, ...pending];
    if (kept.length) rr[field] = kept;
    else delete rr[field];
  }
  return { rrpair: rr, warnings };
}
