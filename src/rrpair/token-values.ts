import { createHmac } from 'node:crypto';

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
