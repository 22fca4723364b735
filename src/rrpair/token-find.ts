import { bodyKind, contentTypeOf, decodeBody, utf8OrUndefined, type InflatedBody } from './body.js';
import { jsonPathStep } from './path.js';
import { dateFormat, decodeJwt, PATTERNS, type TokenEntry } from './token-values.js';
import type { Headers, RRPair } from './types.js';

/*
 * Finding tokens: the values of an RRPair that will need to change at replay (JWTs, bearer and
 * basic credentials, UUIDs, dates, values a response handed out that a later request sends back).
 */
const JWT_RE = /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
const UUID_RE = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\b/g;
const RFC3339_IN = /\b\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)/g;
/**
 * An id a response hands out: 8–128 word characters, dots, colons or dashes, the first a letter
 * or digit, one digit at least: /^[A-Za-z0-9][\w.:-]{7,127}$/ and /\d/ in one loop without a
 * regex call, as every response string is asked.
 */
function idLike(v: string): boolean {
  const n = v.length;
  if (n < 8 || n > 128) return false;
  // the first character a letter or digit; every other one also `_ . : -`
  const c0 = v.charCodeAt(0);
  let seen = c0 < 128 ? ID_CHAR[c0]! : 0;
  if (!(seen & ID_FIRST)) return false;
  for (let i = 1; i < n; i++) {
    const c = v.charCodeAt(i);
    const k = c < 128 ? ID_CHAR[c]! : 0;
    if (k === 0) return false;
    seen |= k;
  }
  return (seen & ID_DIGIT) !== 0;
}
/** idLike's character classes, by char code below 128: 0 for a character no id holds. */
const ID_REST = 1;
const ID_FIRST = 2;
const ID_DIGIT = 4;
const ID_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const digit = c >= 48 && c <= 57;
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (digit || letter) ID_CHAR[c] = ID_REST | ID_FIRST | (digit ? ID_DIGIT : 0);
  else if (c === 95 || c === 46 || c === 58 || c === 45) ID_CHAR[c] = ID_REST;
}
// Non-global twins: a test is far cheaper than matchAll (which copies its regex), and most
// strings hold no match.
const JWT_ONE = new RegExp(JWT_RE.source);
const UUID_ONE = new RegExp(UUID_RE.source);
const RFC3339_IN_ONE = new RegExp(RFC3339_IN.source);
const NOT_ASCII = /[^\x00-\x7f]/;
/**
 * base64 of the UTF-8 bytes of v. Token values are mostly short ASCII (dates, ids, credentials),
 * where btoa (latin1 = UTF-8 there) is about four times cheaper than a Buffer round trip.
 */
const enc = (v: string) => (NOT_ASCII.test(v) ? Buffer.from(v).toString('base64') : btoa(v));
/** Headers that are about the connection, never tokens. */
const AUTH = /^(Bearer|Basic)\s+(\S+)$/i;
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
    this.rememberIn(this.get(session), value, where);
  }
  /** remember() into a session's map already looked up with get(). */
  rememberIn(m: Map<string, { uuid?: string; location: string }>, value: string, where: { uuid?: string; location: string }): void {
    if (!m.delete(value) && m.size >= this.maxValues) m.delete(m.keys().next().value!);
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
  /** Bodies already gunzipped (gunzipBodies, for a whole batch), by their req/res object. */
  inflated?: ReadonlyMap<object, InflatedBody>;
}

export function sessionOf(rr: RRPair): string {
  if (typeof rr.session === 'string' && rr.session) return rr.session;
  return [rr.cluster, rr.namespace, rr.service, rr.network_address].map((x) => (typeof x === 'string' ? x : '')).join('|');
}

/** Find the values of one RRPair that will need to change at replay. */
export function findTokens(rr: RRPair, opts: TokenizeOptions, memory?: RecurringValues): TokenEntry[] {
  const out: TokenEntry[] = [];
  // location → the value(s) written there: one entry per location and value
  const seen = new Map<string, string | string[]>();
  const addOnce = (e: TokenEntry) => {
    const had = seen.get(e.location);
    if (had === undefined) seen.set(e.location, e.replacementValue);
    else if (had === e.replacementValue || (typeof had !== 'string' && had.includes(e.replacementValue))) return;
    else if (typeof had === 'string') seen.set(e.location, [had, e.replacementValue]);
    else had.push(e.replacementValue);
    out.push(e);
  };
  // A JSON leaf whose path has only `.name` and `[i]` steps has a location no other leaf or
  // field can have (a quoted step is the only way two paths can spell alike), so its entries are
  // checked against its own only (out[leafFrom..]): no hashing of every location.
  let leafFrom = -1;
  let quotedPath = false;
  const ownLocation = () => leafFrom >= 0 && !quotedPath;
  const add = (e: TokenEntry) => {
    if (!ownLocation()) return addOnce(e);
    for (let j = leafFrom; j < out.length; j++) if (out[j]!.replacementValue === e.replacementValue) return;
    out.push(e);
  };
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
    if (mayHold(s, whole, request)) scanFor(s, loc, whole, request);
  };
  // Most strings hold nothing: the cheap necessary conditions first, so that the closure and
  // context of scanFor (and a header's location) are made only for the few that may.
  const mayHold = (s: string, whole: boolean, request: boolean) =>
    s.length >= 8 && ((opts.jwt && s.includes('eyJ')) || (opts.uuid && s.length >= 36 && s.includes('-')) || (opts.dates && mayBeTime(s)) || (request && whole && handedOut?.has(s)));
  const scanFor = (s: string, loc: string | (() => string), whole: boolean, request: boolean) => {
    let cached: string | undefined;
    const L = () => (cached ??= typeof loc === 'string' ? loc : loc());
    if (opts.jwt && s.includes('eyJ') && JWT_ONE.test(s)) for (const m of s.matchAll(JWT_RE)) jwtEntry(m[0], L());
    if (opts.uuid && s.length >= 36 && mayBeUuid(s) && UUID_ONE.test(s)) for (const m of s.matchAll(UUID_RE)) add({ location: L(), pattern: PATTERNS.UUID, replacementValue: enc(m[0]) });
    // every date form holds a time of day, so that first: cheaper than the regexes
    if (opts.dates && mayBeTime(s)) {
      const f = whole ? dateFormat(s) : undefined;
      if (f) add({ location: L(), pattern: PATTERNS.DATE, format: f, replacementValue: enc(s) });
      else if (s.includes('-') && RFC3339_IN_ONE.test(s)) for (const m of s.matchAll(RFC3339_IN)) if (!Number.isNaN(Date.parse(m[0]))) add({ location: L(), pattern: PATTERNS.DATE, format: 'rfc3339', replacementValue: enc(m[0]) });
    }
    if (request && handedOut && whole && handedOut.has(s)) {
      const l = L();
      if (ownLocation() ? out.length === leafFrom : !out.some((e) => e.location === l)) add({ location: l, pattern: PATTERNS.RECURRING, replacementValue: enc(s), source: handedOut.get(s)! });
    }
  };
  const http = rr.http;
  const reqHeaders = http?.req?.headers;
  if (reqHeaders && typeof reqHeaders === 'object') {
    for (const name of Object.keys(reqHeaders)) {
      const vals: unknown = (reqHeaders as Record<string, unknown>)[name];
      if (!Array.isArray(vals) || skipHeader(name)) continue;
      for (let i = 0; i < vals.length; i++) {
        const v: unknown = vals[i];
        if (typeof v !== 'string') continue;
        // AUTH starts with Bearer or Basic: one character test before the regex
        const auth = (v.charCodeAt(0) | 32) === 98 ? AUTH.exec(v) : null;
        if (auth) {
          const loc = `http.req.headers.${name}.${i}`;
          const regex = `^${auth[1]}\\s(.+)`;
          if (opts.jwt && /^bearer$/i.test(auth[1]!) && jwtEntry(auth[2]!, loc, regex)) continue;
          if (opts.auth) add({ location: loc, pattern: /^basic$/i.test(auth[1]!) ? PATTERNS.BASIC : PATTERNS.BEARER, regex, replacementValue: enc(auth[2]!) });
          continue;
        }
        if (mayHold(v, true, true)) scanFor(v, `http.req.headers.${name}.${i}`, true, true);
      }
    }
  }
  const resHeaders = http?.res?.headers;
  if (resHeaders && typeof resHeaders === 'object') {
    for (const name of Object.keys(resHeaders)) {
      const vals: unknown = (resHeaders as Record<string, unknown>)[name];
      if (!Array.isArray(vals) || skipHeader(name)) continue;
      for (let i = 0; i < vals.length; i++) {
        const v: unknown = vals[i];
        if (typeof v === 'string' && mayHold(v, true, false)) scanFor(v, `http.res.headers.${name}.${i}`, true, false);
      }
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
    const pre = opts.inflated?.get(part);
    const dec = pre !== undefined && pre.b64 === part.bodyBase64 ? pre : decodeBody(part.bodyBase64, part.headers as Headers | undefined, opts.maxBodyBytes);
    if ('ok' in dec && !dec.ok) {
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
    const request = side === 'req';
    const remember = !request && memory && handedOut ? handedOut : undefined;
    const uuid = typeof rr.uuid === 'string' ? rr.uuid : undefined;
    const steps: (string | number)[] = [];
    // prefix[d]: the location down to steps[d - 1], valid for d <= valid; siblings (the id and
    // the date of one array element) share their parent's prefix; quoted[d]: a step before d is
    // written quoted (['odd name'])
    const prefix: string[] = [`${base}.json.$`];
    const quoted: boolean[] = [false];
    let valid = 0;
    const loc = () => {
      for (let d = valid; d < steps.length; d++) {
        const k = steps[d]!;
        const step = stepOf(k);
        prefix[d + 1] = prefix[d] + step;
        quoted[d + 1] = quoted[d]! || step.charCodeAt(1) === 39;
      }
      valid = steps.length;
      quotedPath = quoted[valid]!;
      return prefix[valid]!;
    };
    // Recursion without a callback or a closure per leaf: most leaves hold nothing, so their
    // location is formatted only when an entry is written or a value is remembered.
    const visit = (v: unknown): void => {
      if (typeof v === 'string') {
        if (v.length < 8) return;
        if (mayHold(v, true, request)) {
          leafFrom = out.length;
          scanFor(v, loc, true, request);
          leafFrom = -1;
        }
        if (remember && idLike(v)) memory!.rememberIn(remember, v, uuid !== undefined ? { uuid, location: loc() } : { location: loc() });
      } else if (typeof v === 'number') {
        const f = opts.dates ? dateFormat(v) : undefined;
        if (f) {
          leafFrom = out.length;
          add({ location: loc(), pattern: PATTERNS.DATE, format: f, replacementValue: btoa(String(v)) /* digits: ASCII */, jsonNumber: true });
          leafFrom = -1;
        }
      } else if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (valid > steps.length) valid = steps.length;
          steps.push(i);
          visit(v[i]);
          steps.pop();
        }
      } else if (v && typeof v === 'object') {
        for (const k in v as Record<string, unknown>) {
          if (valid > steps.length) valid = steps.length;
          steps.push(k);
          visit((v as Record<string, unknown>)[k]);
          steps.pop();
        }
      }
    };
    visit(parsed);
  }
  return out;
}

/**
 * Every date form (RFC 3339, RFC 1123, RFC 3339 inside text) holds a time of day `dd:dd:dd`:
 * looked for from each ':' by indexOf, a necessary condition before the date regexes.
 */
function mayBeTime(s: string): boolean {
  for (let i = s.indexOf(':', 2); i >= 0 && i + 6 <= s.length; i = s.indexOf(':', i + 1)) {
    if (s.charCodeAt(i + 3) === 58 && digit(s, i - 2) && digit(s, i - 1) && digit(s, i + 1) && digit(s, i + 2) && digit(s, i + 4) && digit(s, i + 5)) return true;
  }
  return false;
}

const digit = (s: string, i: number) => {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
};

/**
 * A UUID's dashes are 5 apart (8-4-4-4-12): a necessary condition checked by indexOf before the
 * regex, which long strings with a dash or two (cookies, messages) would otherwise run through.
 */
function mayBeUuid(s: string): boolean {
  for (let d = s.indexOf('-', 8); d >= 0 && d + 28 <= s.length; d = s.indexOf('-', d + 1)) {
    if (s.charCodeAt(d + 5) === 45 && s.charCodeAt(d + 10) === 45 && s.charCodeAt(d + 15) === 45) return true;
  }
  return false;
}

/** `[i]` for the first array indexes, formatted once. */
const INDEX_STEPS = Array.from({ length: 256 }, (_, i) => jsonPathStep(i));
/**
 * JSONPath steps of the short keys seen: a body's keys repeat in every element of its arrays and
 * an API's bodies share their keys; a memo of the formatting only (bounded, cleared when full).
 */
const keySteps = new Map<string, string>();

function stepOf(k: string | number): string {
  if (typeof k === 'number') return k < 256 ? INDEX_STEPS[k]! : jsonPathStep(k);
  if (k.length > 64) return jsonPathStep(k);
  let step = keySteps.get(k);
  if (step === undefined) {
    step = jsonPathStep(k);
    if (keySteps.size >= 1000) keySteps.clear();
    keySteps.set(k, step);
  }
  return step;
}

/** SKIP_HEADERS' answers for the header names seen (a few dozen per deployment). */
const skipCache = new Map<string, boolean>();

function skipHeader(name: string): boolean {
  let skip = skipCache.get(name);
  if (skip === undefined) {
    skip = SKIP_HEADERS.test(name);
    if (skipCache.size >= 1000) skipCache.clear();
    skipCache.set(name, skip);
  }
  return skip;
}

function safeDecode(s: string): string {
  // nothing to decode: decodeURIComponent would give s back
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
