/**
 * Endpoint templates with a bounded number of values: identifiers in paths become `{id}` and SQL
 * becomes its statement shape, so that one series stands for one route, not one URL.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{16,}$/i;
const NUMBER = /^[+-]?\d+(\.\d+)?$/;
/** prefix-token ids such as file-Xw9YVsvv… or ftjob-SteNfm…: a short word, a separator, a long token with a digit or mixed case. */
const PREFIXED_TOKEN = /^[A-Za-z]{1,12}[-_][A-Za-z0-9]{12,}$/;
const MAX_SEGMENTS = 12;

function isIdentifier(seg: string): boolean {
  if (NUMBER.test(seg) || UUID.test(seg) || HEX.test(seg)) return true;
  if (PREFIXED_TOKEN.test(seg) && /[0-9]|[a-z][A-Z]/.test(seg)) return true;
  // A long token mixing letters and digits (base64 ids, hashes, emails in paths).
  if (seg.length >= 20 && /\d/.test(seg) && /[A-Za-z]/.test(seg)) return true;
  return seg.includes('@');
}

/** `/users/123/orders/9?x=1` → `/users/{id}/orders/{id}`. */
export function pathTemplate(location: string): string {
  let p = location;
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  const segs = p.split('/');
  const out = segs.slice(0, MAX_SEGMENTS + 1).map((s) => (s && isIdentifier(s) ? '{id}' : s));
  if (segs.length > MAX_SEGMENTS + 1) out.push('{…}');
  return out.join('/') || '/';
}

/**
 * SQL → its shape: literals (strings, numbers, hex, booleans in comparisons) become `?`, lists of
 * placeholders fold to one (`IN (?)`), whitespace and comments collapse, capped at 200 characters.
 */
export function sqlShape(sql: string): string {
  const s = sql
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+/g, '?')
    .replace(/\b0x[0-9a-f]+\b/gi, '?')
    .replace(/(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?\b/gi, '?')
    .replace(/\(\s*\?(\s*,\s*\?)*\s*\)/g, '(?)')
    .replace(/\bVALUES\s*\(\?\)(\s*,\s*\(\?\))*/gi, 'VALUES (?)')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const SQL_PROTOCOLS = new Set(['postgres', 'postgresql', 'mysql', 'mssql', 'tds', 'oracle', 'sql', 'cassandra', 'cql']);

/** The endpoint dimension of a record: by protocol, a path template, a SQL shape, or the location as it is (gRPC methods, topics). */
export function endpointOf(protocol: string, location: string, command: string): string {
  const p = protocol.toLowerCase();
  if (SQL_PROTOCOLS.has(p)) return sqlShape(location || command);
  if (location.startsWith('/') && !p.startsWith('grpc')) return pathTemplate(location);
  return (location || command).slice(0, 200);
}

/** `200` → `2xx`; a non-HTTP status (gRPC code names, SQL states) as it is, capped. */
export function statusClass(status: string): string {
  if (/^[1-5]\d\d$/.test(status)) return `${status[0]}xx`;
  return status.slice(0, 32);
}
