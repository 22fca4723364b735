import type { QueryFilter } from '../core/query.js';
import { compileLinear } from './linear-regex.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time: "now", a relative offset from now ("-1h", "-30m", "-7d", "+5m"), an RFC 3339
 * time, or milliseconds since the epoch.
 */
export function parseTime(s: string, now = Date.now()): Date {
  const t = s.trim();
  if (t === 'now') return new Date(now);
  const rel = /^([+-])(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) return within(s, now + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNITS[rel[3]!]!);
  if (/^\d{10,}$/.test(t)) return within(s, Number(t));
  const day = /^(\d{4})-(\d\d)-(\d\d)/.exec(t);
  if (day && realDay(Number(day[1]), Number(day[2]), Number(day[3]))) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return within(s, ms);
  }
  throw new Error(`invalid time "${s}" (expected now, -1h / -30m / -7d, RFC 3339, or epoch milliseconds)`);
}

/** The largest distance from the epoch a Date holds (ECMAScript's time value range). */
const MAX_TIME_MS = 8.64e15;

function within(s: string, ms: number): Date {
  if (!(Math.abs(ms) <= MAX_TIME_MS)) throw new Error(`time "${s}" is out of range (dates run from 271821 BC to 275760 AD)`);
  return new Date(ms);
}

/** Date.parse takes 2021-02-30 as March 2: a day past its month's end is refused instead. */
function realDay(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The query parameters `rrpipe query` and GET /api/v1/rrpairs share. */
export const FILTER_PARAMS = ['start', 'end', 'cluster', 'namespace', 'service', 'direction', 'protocol', 'method', 'status', 'endpoint', 'limit', 'after'] as const;

/** Build a QueryFilter from string parameters; throws an Error naming the bad parameter. */
export function filterFromParams(p: Partial<Record<string, string | undefined>>, opts: { now?: number; maxLimit?: number; minLimit?: number } = {}): QueryFilter {
  const f: QueryFilter = {};
  const now = opts.now ?? Date.now();
  if (p.start) f.start = parseTime(p.start, now);
  if (p.end) f.end = parseTime(p.end, now);
  if (f.start && f.end && f.start >= f.end) throw new Error(`start (${f.start.toISOString()}) must be before end (${f.end.toISOString()})`);
  for (const k of ['cluster', 'namespace', 'service', 'protocol'] as const) if (p[k] !== undefined && p[k] !== '') f[k] = p[k];
  if (p.direction !== undefined && p.direction !== '') {
    const d = p.direction.toUpperCase();
    if (d !== 'IN' && d !== 'OUT') throw new Error(`invalid direction "${p.direction}" (expected IN or OUT)`);
    f.direction = d;
  }
  for (const k of ['method', 'status', 'endpoint'] as const) {
    const v = p[k];
    if (v === undefined || v === '') continue;
    compileLinear(v, k); // throws naming the parameter; refuses what RE2 cannot match in linear time
    f[k] = v;
  }
  if (p.limit !== undefined && p.limit !== '') {
    if (!/^\d+$/.test(p.limit)) throw new Error(`invalid limit "${p.limit}" (expected a whole number)`);
    const n = Number(p.limit);
    if (opts.maxLimit !== undefined && n > opts.maxLimit) throw new Error(`limit ${n} is above the maximum ${opts.maxLimit}`);
    if (opts.minLimit !== undefined && n < opts.minLimit) throw new Error(`limit ${n} is below the minimum ${opts.minLimit}`);
    f.limit = n;
  }
  if (p.after) f.after = p.after;
  return f;
}
