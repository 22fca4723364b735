import { createHash } from 'node:crypto';
import type { RRRecord } from '../core/record.js';
import type { IndexDoc } from './index-doc.js';
import { isUnset, type RRPair } from './types.js';

/** command, location and status as Speedscale shows them ("POST /api/orders 404"). */
export interface CommandLocationStatus {
  command: string;
  location: string;
  status: string;
}

/**
 * Derive command/location/status when the capture did not set them (values the capture set win).
 * - HTTP (http, https, http2, and any RRPair with an `http` object): method, path without query,
 *   status code as a string ("POST /api/orders 404").
 * - gRPC (`l7protocol` grpc, or an HTTP/2 RRPair whose content type is application/grpc): the
 *   method name, "/package.Service/Method", the grpc-status code as a string ("0" for OK).
 * - Postgres (`l7protocol` postgres / postgresql / pgsql): "Query" (or the message type the
 *   capture names), the SQL on one line, "OK" or the SQLSTATE error code.
 * - Anything else: the l7protocol upper-cased, the network address, "" (see the indexing README).
 * More rules can be added with registerProtocolRule.
 */
export function deriveCLS(rr: RRPair): CommandLocationStatus {
  const proto = (typeof rr.l7protocol === 'string' ? rr.l7protocol : '').toLowerCase();
  const rule = protocolRules.get(proto) ?? (isGrpc(rr) ? grpcRule : undefined);
  const fallback = rule?.(rr) ?? (isObject(rr.http) ? httpRule(rr) : otherRule(rr));
  return {
    command: nonEmpty(rr.command) ?? fallback.command,
    location: nonEmpty(rr.location) ?? fallback.location,
    status: nonEmpty(rr.status) ?? fallback.status,
  };
}

type Rule = (rr: RRPair) => CommandLocationStatus | undefined;
const protocolRules = new Map<string, Rule>();

/** Register the command/location/status rule for an l7protocol (built in: gRPC and Postgres). */
export function registerProtocolRule(l7protocol: string, rule: Rule): void {
  protocolRules.set(l7protocol.toLowerCase(), rule);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** First value of a header, whatever the case of its name. */
export function headerOf(headers: unknown, name: string): string | undefined {
  if (!isObject(headers)) return undefined;
  const want = name.toLowerCase();
  // for…in over an object's own keys (the order of Object.entries), names compared by length first:
  // no array of entries and no lower-cased copy of every name.
  for (const k in headers) {
    if (k.length !== want.length || !Object.hasOwn(headers, k) || (k !== want && k.toLowerCase() !== want)) continue;
    const v = headers[k];
    if (Array.isArray(v)) return v.length ? str(v[0]) : undefined;
    return str(v);
  }
  return undefined;
}

function isGrpc(rr: RRPair): boolean {
  if (isObject(rr.grpc)) return true;
  const ct = headerOf(rr.http?.req?.headers, 'content-type') ?? '';
  return /^application\/grpc/i.test(ct);
}

function httpRule(rr: RRPair): CommandLocationStatus {
  const req = isObject(rr.http?.req) ? rr.http!.req! : undefined;
  const res = isObject(rr.http?.res) ? rr.http!.res! : undefined;
  const target = str(req?.uri) || str(req?.url);
  let path = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    try {
      path = new URL(path).pathname;
    } catch {
      /* keep as is */
    }
  }
  path = path.split('?')[0]!.split('#')[0]!;
  return {
    command: str(req?.method),
    location: path,
    status: res?.statusCode !== undefined && res.statusCode !== null ? str(res.statusCode) : '',
  };
}

/**
 * gRPC: from a `grpc` object ({ service, method, status | statusCode | code }) when the capture has
 * one, else from the HTTP/2 form (path "/package.Service/Method", grpc-status in the response
 * trailers or headers).
 */
function grpcRule(rr: RRPair): CommandLocationStatus {
  const g = isObject(rr.grpc) ? rr.grpc : {};
  const req = isObject(g.req) ? g.req : {};
  const res = isObject(g.res) ? g.res : {};
  const http = httpRule(rr);
  let path = str(g.fullMethod) || str(req.fullMethod) || str(g.path) || str(req.path);
  const svc = str(g.service) || str(req.service);
  const m = str(g.method) || str(req.method);
  if (!path && svc && m) path = `/${svc}/${m}`;
  if (!path && http.location.startsWith('/')) path = http.location;
  const method = m || path.split('/').filter(Boolean).pop() || '';
  let status = str(g.status ?? g.statusCode ?? g.code ?? res.status ?? res.statusCode ?? res.code);
  if (!status) {
    const httpRes = rr.http?.res;
    status =
      headerOf(httpRes?.trailers, 'grpc-status') ??
      headerOf(httpRes?.headers, 'grpc-status') ??
      (http.status === '200' ? '0' : http.status);
  }
  return { command: method, location: path, status };
}

/** Postgres: see the indexing README for the field shape (postgres.req.query, postgres.res.error.code). */
function postgresRule(rr: RRPair): CommandLocationStatus {
  const pg = isObject(rr.postgres) ? rr.postgres : {};
  const req = isObject(pg.req) ? pg.req : pg;
  const res = isObject(pg.res) ? pg.res : pg;
  const sql = str(req.query) || str(req.sql) || str(req.statement) || str(pg.query);
  const err = isObject(res.error) ? res.error : undefined;
  const code = str(err?.code) || str(res.errorCode) || str(res.sqlstate);
  const type = str(req.messageType) || str(req.type);
  return {
    command: type || 'Query',
    location: oneLine(sql),
    status: code || (err ? 'ERROR' : 'OK'),
  };
}

/** SQL on one line: runs of whitespace (newlines, tabs) become one space. */
export function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/** Any other protocol: the protocol name upper-cased, the network address, no status. */
function otherRule(rr: RRPair): CommandLocationStatus {
  return { command: str(rr.l7protocol).toUpperCase(), location: str(rr.network_address), status: '' };
}

registerProtocolRule('grpc', grpcRule);
for (const p of ['postgres', 'postgresql', 'pgsql', 'pg']) registerProtocolRule(p, postgresRule);

function nonEmpty(s: unknown): string | undefined {
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/** A stable id: the RRPair's uuid, or a hash of its content so every store writes idempotently. */
export function recordId(rr: RRPair): string {
  if (typeof rr.uuid === 'string' && rr.uuid !== '') return rr.uuid;
  return createHash('sha256').update(canonicalJson(rr)).digest('base64').slice(0, 22) + '==';
}

/** JSON with object keys sorted, so equal values hash equally whatever their field order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

function identity(r: RRRecord, f: 'cluster' | 'namespace' | 'service'): string {
  const fromBody = r.rrpair[f];
  if (!isUnset(fromBody)) return String(fromBody);
  const v = f === 'cluster' ? r.resource.cluster ?? r.attributes.cluster : r.attributes[f] ?? r.resource[f];
  return v === undefined || isUnset(v) ? '' : String(v);
}

function bodySize(b64: unknown): number {
  if (typeof b64 !== 'string') return 0;
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - pad);
}

/** RFC 3339 with nanoseconds ("2025-03-18T00:41:46.221941000Z"), from the RRPair's ts. */
export function normalizeTs(ts: string | undefined, fallbackNs?: bigint): string {
  const m = ts ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/.exec(ts) : null;
  if (m) {
    const ms = Date.parse(`${m[1]}${m[3]}`);
    if (!Number.isNaN(ms)) return `${new Date(ms).toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}Z`;
  }
  const ns = fallbackNs ?? BigInt(Date.now()) * 1_000_000n;
  const ms = Number(ns / 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** The index document for a record (the indexing processor attaches it; stores fall back to this). */
export function buildIndexDoc(r: RRRecord): IndexDoc {
  const rr = r.rrpair;
  const cls = deriveCLS(rr);
  const host = str(rr.http?.req?.host) || (typeof rr.network_address === 'string' ? rr.network_address.replace(/:\d+$/, '') : '');
  const doc: IndexDoc = {
    id: recordId(rr),
    ts: normalizeTs(typeof rr.ts === 'string' ? rr.ts : undefined, r.observedNs),
    cluster: identity(r, 'cluster'),
    namespace: identity(r, 'namespace'),
    service: identity(r, 'service'),
    direction: typeof rr.direction === 'string' ? rr.direction.toUpperCase() : '',
    l7protocol: str(rr.l7protocol),
    command: cls.command,
    location: cls.location,
    status: cls.status,
    host,
    duration: typeof rr.duration === 'number' && Number.isFinite(rr.duration) ? rr.duration : 0,
    req_size: bodySize(rr.http?.req?.bodyBase64),
    res_size: bodySize(rr.http?.res?.bodyBase64),
  };
  if (r.location) doc.archive_uri = r.location;
  return doc;
}

/** The record's index document: the one the indexing processor attached, or one derived now. */
export function indexDocOf(r: RRRecord): IndexDoc {
  if (!r.index) return buildIndexDoc(r);
  return r.location && !r.index.archive_uri ? { ...r.index, archive_uri: r.location } : r.index;
}
