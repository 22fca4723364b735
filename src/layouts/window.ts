/** Parse a window edge: RFC 3339, "now", or relative to now ("-6h", "-30m", "-2d", "-1w", "-90s"). */
export function parseTime(v: string | undefined, now = Date.now(), what = 'time'): number {
  if (v === undefined || v === '' || v === 'now') return now;
  const rel = /^([+-])(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(v.trim());
  if (rel) {
    const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[rel[3] as 'ms'];
    return now + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * unit;
  }
  if (/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d))?$/.test(v.trim())) {
    const ms = Date.parse(v.trim());
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Error(`${what} "${v}" is neither RFC 3339 (2025-03-18T00:00:00Z), "now", nor relative like -6h`);
}
