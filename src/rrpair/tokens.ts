import { createHmac, randomUUID } from 'node:crypto';
import { bodyKind, contentTypeOf, decodeBody, encodeBody, utf8OrUndefined } from './body.js';
import { formatJsonPath } from './path.js';
import type { Headers, RRPair } from './types.js';

/**
 * A value that must change at replay time, recorded the way Speedscale snapshots do:
 * `location` in Speedscale's path syntax, `pattern` a DATA_PATTERN_* name, `regex` when the value
 * is part of the field (capture group 1), `replacementValue` the original value in base64.
 */
export interface TokenEntry {
  location: string;
  pattern: string;
  regex?: string;
  replacementValue: string;
  /** parameterize mode: the text that stands for the value in the RRPair. */
  placeholder?: string;
  /** The value was a bare JSON number (its placeholder is the JSON string "{{rrp:N}}"). */
  jsonNumber?: boolean;
  /** DATA_PATTERN_DATE: rfc3339 | rfc1123 | epoch_s | epoch_ms. */
  format?: string;
  /** DATA_PATTERN_JWT: the header's alg and the time claims. */
  jwt?: { alg?: string; exp?: number; iat?: number; nbf?: number };
  /** DATA_PATTERN_RECURRING: where the value was handed out (response) and by which RRPair. */
  source?: { uuid?: string; location: string };
}

export const PATTERNS = {
  JWT: 'DATA_PATTERN_JWT',
  BEARER: 'DATA_PATTERN_BEARER',
  BASIC: 'DATA_PATTERN_BASIC_AUTH',
  UUID: 'DATA_PATTERN_UUID',
  DATE: 'DATA_PATTERN_DATE',
  RECURRING: 'DATA_PATTERN_RECURRING',
} as const;

// ---------- JWT ----------

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signature: string;
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object') return undefined;
    if (!('alg' in header) && !('typ' in header)) return undefined;
    return { header, claims, signature: parts[2]! };
  } catch {
    return undefined;
  }
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Sign claims as an HS256 JWT, or, without a key, an unsigned one (alg "none"). */
export function encodeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, hs256Key?: string): string {
  const h = { ...header, alg: hs256Key ? 'HS256' : 'none' };
  const input = `${b64url(h)}.${b64url(claims)}`;
  if (!hs256Key) return `${input}.`;
  return `${input}.${createHmac('sha256', hs256Key).update(input).digest('base64url')}`;
}

// ---------- dates ----------

const RFC3339 = /^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)$/;
const RFC1123 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;
const EPOCH_S = [946_684_800, 4_102_444_800]; // 2000-01-01 .. 2100-01-01
const EPOCH_MS = [EPOCH_S[0]! * 1000, EPOCH_S[1]! * 1000];

/** The date format of a whole value, or undefined. Numbers count in plausible epoch ranges only. */
export function dateFormat(v: string | number): string | undefined {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return undefined;
    if (v >= EPOCH_S[0]! && v < EPOCH_S[1]!) return 'epoch_s';
    if (v >= EPOCH_MS[0]! && v < EPOCH_MS[1]!) return 'epoch_ms';
    return undefined;
  }
  if (RFC3339.test(v) && !Number.isNaN(Date.parse(v))) return 'rfc3339';
  if (RFC1123.test(v) && !Number.isNaN(Date.parse(v))) return 'rfc1123';
  return undefined;
}

/** The same date moved by offsetMs, written in the same format (fraction digits and zone kept). */
export function shiftDate(v: string, format: string, offsetMs: number): string {
  if (offsetMs === 0) return v;
  switch (format) {
    case 'epoch_s':
      return String(Number(v) + Math.round(offsetMs / 1000));
    case 'epoch_ms':
      return String(Number(v) + Math.round(offsetMs));
    case 'rfc1123':
      return new Date(Date.parse(v) + offsetMs).toUTCString();
    case 'rfc3339': {
      const m = RFC3339.exec(v);
      if (!m) return v;
      const frac = m[3] ?? '';
      const zone = m[4]!;
      const zoneMs = /^[Zz]$/.test(zone) ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
      const fracNs = frac ? BigInt(frac.slice(1).padEnd(9, '0')) : 0n;
      const baseMs = Date.parse(`${m[1]}T${m[2]}Z`) - zoneMs; // UTC instant of the whole seconds
      const totalNs = BigInt(baseMs) * 1_000_000n + fracNs + BigInt(Math.round(offsetMs)) * 1_000_000n;
      const secMs = Number((totalNs / 1_000_000_000n) * 1000n);
      const local = new Date(secMs + zoneMs).toISOString().slice(0, 19);
      const sep = v[10]!;
      const outFrac = frac ? '.' + (totalNs % 1_000_000_000n).toString().padStart(9, '0').slice(0, frac.length - 1) : '';
      return `${local.slice(0, 10)}${sep}${local.slice(11)}${outFrac}${zone}`;
    }
    default:
      return v;
  }
}

// ---------- the string fields of an RRPair ----------

type Mapper = (s: string, where: { location: string; json: boolean }) => string;

/**
 * Apply fn to every string field a token can live in: header values, url/uri/location, query
 * parameters and decoded bodies (JSON bodies flagged, so a bare number can be handled).
 * Bodies are re-encoded (same compression) only when they changed.
 */
export function mapFields(rr: RRPair, fn: Mapper, maxBodyBytes = 16 << 20): void {
  if (typeof rr.location === 'string') rr.location = fn(rr.location, { location: 'location', json: false });
  const http = rr.http;
  if (!http || typeof http !== 'object') return;
  for (const side of ['req', 'res'] as const) {
    const part = http[side];
    if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
    const base = `http.${side}`;
    mapHeaders(part.headers, `${base}.headers`, fn);
    if (side === 'req') {
      for (const f of ['url', 'uri'] as const) if (typeof part[f] === 'string') part[f] = fn(part[f] as string, { location: `${base}.${f}`, json: false });
      mapHeaders(part.queryParams, `${base}.queryParams`, fn);
    }
    if (typeof part.bodyBase64 === 'string' && part.bodyBase64 !== '') {
      const dec = decodeBody(part.bodyBase64, part.headers as Headers | undefined, maxBodyBytes);
      if (!dec.ok) continue;
      const text = utf8OrUndefined(dec.bytes);
      if (text === undefined) continue;
      const json = bodyKind(contentTypeOf(part), text) === 'json';
      const out = fn(text, { location: `${base}.body`, json });
      if (out !== text) part.bodyBase64 = encodeBody(Buffer.from(out, 'utf8'), dec.encoding);
    }
  }
}

function mapHeaders(h: unknown, base: string, fn: Mapper): void {
  if (!h || typeof h !== 'object' || Array.isArray(h)) return;
  const o = h as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (Array.isArray(v)) o[k] = v.map((x, i) => (typeof x === 'string' ? fn(x, { location: `${base}.${k}.${i}`, json: false }) : x));
  }
}

// ---------- detection ----------

const JWT_RE = /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
const UUID_RE = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\b/g;
const RFC3339_IN = /\b\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)/g;
const ID_LIKE = /^(?=.*\d)[A-Za-z0-9][\w.:-]{7,127}$/;
/** Headers that are about the connection, never tokens. */
const SKIP_HEADERS = /^(host|content-length|content-type|accept|accept-encoding|user-agent|connection|x-stainless-.*)$/i;

export interface SessionMemory {
  /** Values handed out in responses: value → where. */
  get(session: string): Map<string, { uuid?: string; location: string }>;
}

/** Values a later request may send back, remembered per session (bounded). */
export class RecurringValues implements SessionMemory {
  private readonly sessions = new Map<string, Map<string, { uuid?: string; location: string }>>();
  constructor(private readonly maxSessions = 10_000, private readonly maxValues = 1_000) {}
  get(session: string) {
    let m = this.sessions.get(session);
    if (!m) {
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
      m = new Map();
      this.sessions.set(session, m);
    } else {
      this.sessions.delete(session);
      this.sessions.set(session, m);
    }
    return m;
  }
  remember(session: string, value: string, where: { uuid?: string; location: string }): void {
    const m = this.get(session);
    if (m.has(value)) m.delete(value);
    else if (m.size >= this.maxValues) m.delete(m.keys().next().value!);
    m.set(value, where);
  }
}

export interface TokenizeOptions {
  jwt: boolean;
  auth: boolean;
  uuid: boolean;
  dates: boolean;
  recurring: boolean;
  maxBodyBytes: number;
  /** Told when a body is not looked into (too large, not decodable). */
  onBodySkipped?: (reason: string) => void;
}

export function sessionOf(rr: RRPair): string {
  if (typeof rr.session === 'string' && rr.session) return rr.session;
  return [rr.cluster, rr.namespace, rr.service, rr.network_address].map((x) => (typeof x === 'string' ? x : '')).join('|');
}

/** Find the values of one RRPair that will need to change at replay. */
export function findTokens(rr: RRPair, opts: TokenizeOptions, memory?: RecurringValues): TokenEntry[] {
  const out: TokenEntry[] = [];
  const seen = new Set<string>();
  const add = (e: TokenEntry) => {
    const k = `${e.location}\u0000${e.replacementValue}`;
    if (!seen.has(k)) (seen.add(k), out.push(e));
  };
  const enc = (v: string) => Buffer.from(v).toString('base64');
  const session = sessionOf(rr);
  const handedOut = opts.recurring && memory ? memory.get(session) : undefined;

  const jwtEntry = (tok: string, location: string, regex?: string): boolean => {
    const d = decodeJwt(tok);
    if (!d) return false;
    const t: TokenEntry['jwt'] = {};
    if (typeof d.header.alg === 'string') t.alg = d.header.alg;
    for (const c of ['exp', 'iat', 'nbf'] as const) if (typeof d.claims[c] === 'number') t[c] = d.claims[c] as number;
    add({ location, pattern: PATTERNS.JWT, ...(regex ? { regex } : {}), replacementValue: enc(tok), jwt: t });
    return true;
  };

  /** A string value (header, URL part, JSON string, text body). */
  const scan = (s: string, loc: string | (() => string), whole: boolean, request: boolean) => {
    if (s.length < 8) return;
    let cached: string | undefined;
    const L = () => (cached ??= typeof loc === 'string' ? loc : loc());
    if (opts.jwt && s.includes('eyJ')) for (const m of s.matchAll(JWT_RE)) jwtEntry(m[0], L());
    if (opts.uuid && s.includes('-')) for (const m of s.matchAll(UUID_RE)) add({ location: L(), pattern: PATTERNS.UUID, replacementValue: enc(m[0]) });
    if (opts.dates && /\d\d/.test(s)) {
      const f = whole ? dateFormat(s) : undefined;
      if (f) add({ location: L(), pattern: PATTERNS.DATE, format: f, replacementValue: enc(s) });
      else if (s.includes(':')) for (const m of s.matchAll(RFC3339_IN)) if (!Number.isNaN(Date.parse(m[0]))) add({ location: L(), pattern: PATTERNS.DATE, format: 'rfc3339', replacementValue: enc(m[0]) });
    }
    if (request && handedOut && whole && handedOut.has(s) && !out.some((e) => e.location === L())) {
      add({ location: L(), pattern: PATTERNS.RECURRING, replacementValue: enc(s), source: handedOut.get(s)! });
    }
  };
  const http = rr.http;
  const reqHeaders = http?.req?.headers;
  if (reqHeaders && typeof reqHeaders === 'object') {
    for (const [name, vals] of Object.entries(reqHeaders)) {
      if (!Array.isArray(vals) || SKIP_HEADERS.test(name)) continue;
      vals.forEach((v, i) => {
        if (typeof v !== 'string') return;
        const loc = `http.req.headers.${name}.${i}`;
        const auth = /^(Bearer|Basic)\s+(\S+)$/i.exec(v);
        if (auth) {
          const regex = `^${auth[1]}\\s(.+)`;
          if (opts.jwt && /^bearer$/i.test(auth[1]!) && jwtEntry(auth[2]!, loc, regex)) return;
          if (opts.auth) add({ location: loc, pattern: /^basic$/i.test(auth[1]!) ? PATTERNS.BASIC : PATTERNS.BEARER, regex, replacementValue: enc(auth[2]!) });
          return;
        }
        scan(v, loc, true, true);
      });
    }
  }
  const resHeaders = http?.res?.headers;
  if (resHeaders && typeof resHeaders === 'object') {
    for (const [name, vals] of Object.entries(resHeaders)) {
      if (!Array.isArray(vals) || SKIP_HEADERS.test(name)) continue;
      vals.forEach((v, i) => typeof v === 'string' && scan(v, `http.res.headers.${name}.${i}`, true, false));
    }
  }
  const req = http?.req;
  if (req && typeof req === 'object') {
    const target = typeof req.uri === 'string' ? req.uri : typeof req.url === 'string' ? req.url : undefined;
    if (target) {
      const [path, query] = target.split('?', 2) as [string, string | undefined];
      for (const seg of path.split('/')) if (seg) scan(safeDecode(seg), `http.req.uri`, true, true);
      if (query) for (const pair of query.split('&')) {
        const eq = pair.indexOf('=');
        if (eq > 0) scan(safeDecode(pair.slice(eq + 1)), `http.req.queryParams.${safeDecode(pair.slice(0, eq))}.0`, true, true);
      }
    }
  }
  // bodies
  for (const side of ['req', 'res'] as const) {
    const part = http?.[side];
    if (!part || typeof part !== 'object' || typeof part.bodyBase64 !== 'string' || !part.bodyBase64) continue;
    const dec = decodeBody(part.bodyBase64, part.headers as Headers | undefined, opts.maxBodyBytes);
    if (!dec.ok) {
      opts.onBodySkipped?.(dec.reason);
      continue;
    }
    const text = utf8OrUndefined(dec.bytes);
    if (text === undefined) continue;
    const base = `http.${side}.body`;
    let parsed: unknown;
    let isJson = false;
    if (bodyKind(contentTypeOf(part), text) === 'json') {
      try {
        parsed = JSON.parse(text);
        isJson = true;
      } catch {
        /* text */
      }
    }
    if (!isJson) {
      scan(text, `${base}.text`, false, side === 'req');
      continue;
    }
    walkJson(parsed, [], (v, steps) => {
      const loc = () => `${base}.json.${formatJsonPath(steps)}`;
      if (typeof v === 'number') {
        const f = opts.dates ? dateFormat(v) : undefined;
        if (f) add({ location: loc(), pattern: PATTERNS.DATE, format: f, replacementValue: enc(String(v)), jsonNumber: true });
        return;
      }
      scan(v, loc, true, side === 'req');
      if (side === 'res' && memory && opts.recurring && v.length >= 8 && ID_LIKE.test(v)) memory.remember(session, v, { ...(typeof rr.uuid === 'string' ? { uuid: rr.uuid } : {}), location: loc() });
    });
  }
  return out;
}

/** Visit every string and number leaf; `steps` is a shared stack, valid during the callback only. */
function walkJson(v: unknown, steps: (string | number)[], fn: (v: string | number, steps: (string | number)[]) => void): void {
  if (typeof v === 'string' || typeof v === 'number') return fn(v, steps);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      steps.push(i);
      walkJson(v[i], steps, fn);
      steps.pop();
    }
  } else if (v && typeof v === 'object') {
    for (const k in v as Record<string, unknown>) {
      steps.push(k);
      walkJson((v as Record<string, unknown>)[k], steps, fn);
      steps.pop();
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------- parameterize and render ----------

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
