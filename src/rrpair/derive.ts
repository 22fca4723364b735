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
 * Derive command/location/status when the capture did not set them. HTTP: method, path without
 * query, status code. Protocol-specific rules (gRPC, Postgres) are added by deriveCLS handlers.
 */
export function deriveCLS(rr: RRPair): CommandLocationStatus {
  const fallback = protocolRules.get((rr.l7protocol ?? '').toLowerCase())?.(rr) ?? httpRule(rr);
  return {
    command: nonEmpty(rr.command) ?? fallback.command,
    location: nonEmpty(rr.location) ?? fallback.location,
    status: nonEmpty(rr.status) ?? fallback.status,
  };
}

type Rule = (rr: RRPair) => CommandLocationStatus | undefined;
const protocolRules = new Map<string, Rule>();

/** Register the command/location/status rule for an l7protocol (the indexing processor adds gRPC, Postgres…). */
export function registerProtocolRule(l7protocol: string, rule: Rule): void {
  protocolRules.set(l7protocol.toLowerCase(), rule);
}

function httpRule(rr: RRPair): CommandLocationStatus {
  const req = rr.http?.req;
  const res = rr.http?.res;
  const target = req?.uri ?? req?.url ?? '';
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
    command: req?.method ?? '',
    location: path,
    status: res?.statusCode !== undefined && res.statusCode !== null ? String(res.statusCode) : '',
  };
}

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
  const host = rr.http?.req?.host ?? (typeof rr.network_address === 'string' ? rr.network_address.replace(/:\d+$/, '') : '');
  const doc: IndexDoc = {
    id: recordId(rr),
    ts: normalizeTs(rr.ts, r.observedNs),
    cluster: identity(r, 'cluster'),
    namespace: identity(r, 'namespace'),
    service: identity(r, 'service'),
    direction: String(rr.direction ?? ''),
    l7protocol: String(rr.l7protocol ?? ''),
    command: cls.command,
    location: cls.location,
    status: cls.status,
    host: String(host ?? ''),
    duration: typeof rr.duration === 'number' ? rr.duration : 0,
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
