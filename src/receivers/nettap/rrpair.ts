import { randomBytes } from 'node:crypto';
import { newRecord, type RRRecord } from '../../core/record.js';
import type { Headers, RRPair } from '../../rrpair/types.js';

/** Where the capture happened, for tags and identity. */
export interface Identity {
  cluster: string;
  namespace: string;
  service: string;
}

/** cluster/namespace/service from the config, else the Kubernetes downward-API environment. */
export function resolveIdentity(cfg: { cluster?: string; namespace?: string; service?: string }, env: NodeJS.ProcessEnv = process.env): Identity {
  const podName = env.POD_NAME ?? '';
  // A Deployment pod is "<service>-<replicaset hash>-<pod hash>"; a StatefulSet pod "<service>-<ordinal>".
  const fromPod = podName.replace(/-[a-z0-9]{6,10}-[a-z0-9]{5}$/, '').replace(/-\d+$/, '');
  return {
    cluster: cfg.cluster || env.CLUSTER_NAME || 'undefined',
    namespace: cfg.namespace || env.POD_NAMESPACE || 'undefined',
    service: cfg.service || env.SERVICE_NAME || env.APP_LABEL || fromPod || 'undefined',
  };
}

/** Speedscale's uuid: base64 of 16 random bytes. */
export function newUuid(): string {
  return randomBytes(16).toString('base64');
}

/** RFC 3339 with microseconds, as Speedscale writes ts. */
export function rfc3339(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString(); // 2025-03-18T00:45:58.874Z
  const micros = Math.round((ms - Math.floor(ms)) * 1000).toString().padStart(3, '0').slice(0, 3);
  return `${iso.slice(0, 23)}${micros}Z`;
}

/** Raw header list [name, value, name, value...] → {Name: [values]}, keeping the sender's spelling. */
export function headersFromRaw(raw: readonly string[]): Headers {
  const out: Headers = {};
  const canon = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.startsWith(':')) continue; // HTTP/2 pseudo-headers are in method/uri/status
    const lower = name.toLowerCase();
    const key = canon.get(lower) ?? canonicalName(name);
    canon.set(lower, key);
    (out[key] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/** "content-type" → "Content-Type" (Go's canonical form, which Speedscale's recorder writes). */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

export function headerValue(h: Headers | undefined, name: string): string | undefined {
  if (!h) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === want) return v[0];
  return undefined;
}

export interface NetEnds {
  clientAddr?: string;
  clientPort?: number;
  serverAddr?: string;
  serverPort?: number;
  /** The host name the client asked for (Host header, CONNECT target, SNI). */
  hostname?: string;
  reqBytes?: number;
  resBytes?: number;
}

export function netinfo(n: NetEnds): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  out.upstream = { ...(n.serverPort !== undefined ? { port: n.serverPort } : {}), hostname: n.hostname ?? n.serverAddr ?? '', ...(n.serverAddr ? { address: n.serverAddr } : {}) };
  if (n.clientAddr || n.clientPort !== undefined) out.downstream = { ...(n.clientAddr ? { address: n.clientAddr } : {}), ...(n.clientPort !== undefined ? { port: n.clientPort } : {}) };
  if (n.reqBytes !== undefined) out.requestBytes = n.reqBytes;
  if (n.resBytes !== undefined) out.responseBytes = n.resBytes;
  return out;
}

export interface HttpCapture {
  startMs: number;
  endMs: number;
  direction: 'IN' | 'OUT';
  tls: boolean;
  /** "1.1", "2.0"... */
  version: string;
  method: string;
  /** Request target as sent (origin form; absolute form is reduced to path and query). */
  target: string;
  host: string;
  reqHeaders: Headers;
  reqBody?: CapturedBody;
  statusCode?: number;
  statusMessage?: string;
  resHeaders?: Headers;
  resBody?: CapturedBody;
  /** gRPC and HTTP/2 trailers. */
  trailers?: Headers;
  net: NetEnds;
  tags: Record<string, string>;
  /** Set when no response came (upstream refused, client went away). */
  error?: string;
}

export interface CapturedBody {
  bytes: Buffer;
  truncated: boolean;
  decoded: boolean;
  /** Bytes seen on the wire, whatever was kept. */
  wireBytes: number;
}

const STATUS_TEXT: Record<number, string> = {};

/** Build an HTTP/HTTPS/gRPC RRPair shaped like Speedscale's (see samples/). */
export function buildHttpPair(c: HttpCapture, id: Identity): RRPair {
  let target = c.target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      const u = new URL(target);
      target = u.pathname + u.search;
    } catch {
      /* keep */
    }
  }
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const contentType = headerValue(c.reqHeaders, 'content-type') ?? '';
  const grpc = contentType.startsWith('application/grpc');
  const l7protocol = grpc ? 'grpc' : c.tls ? 'https' : 'http';
  const tags: Record<string, string> = { ...c.tags };
  if (c.reqBody?.decoded || c.resBody?.decoded) tags.decoded = 'true';
  if (c.reqBody?.truncated) tags.requestBodyTruncated = 'true';
  if (c.resBody?.truncated) tags.responseBodyTruncated = 'true';
  if (c.error) tags.error = c.error;
  const req: NonNullable<RRPair['http']>['req'] = {
    url: path,
    uri: target,
    version: c.version,
    method: c.method,
    host: c.host,
    headers: c.reqHeaders,
  };
  if (q >= 0) {
    const qp: Record<string, string[]> = {};
    for (const [k, v] of new URLSearchParams(target.slice(q + 1))) (qp[k] ??= []).push(v);
    req.queryParams = qp;
  }
  if (c.reqBody && c.reqBody.bytes.length > 0) req.bodyBase64 = c.reqBody.bytes.toString('base64');
  const rr: RRPair = {
    msgType: 'rrpair',
    resource: 'nettap',
    ts: rfc3339(c.startMs),
    l7protocol,
    duration: Math.max(0, Math.round(c.endMs - c.startMs)),
    tags,
    uuid: newUuid(),
    direction: c.direction,
    cluster: id.cluster,
    namespace: id.namespace,
    service: id.service,
    network_address: `${c.net.hostname ?? c.host.replace(/:\d+$/, '')}:${c.net.serverPort ?? ''}`,
    command: c.method,
    location: path,
    status: c.statusCode !== undefined ? String(c.statusCode) : '',
    http: { req },
    netinfo: netinfo(c.net),
  };
  if (grpc) {
    rr.command = c.method;
    const grpcStatus = headerValue(c.trailers, 'grpc-status') ?? headerValue(c.resHeaders, 'grpc-status');
    rr.grpc = { service: path.split('/')[1] ?? '', method: path.split('/')[2] ?? '', status: grpcStatus ?? '' };
  }
  if (c.statusCode !== undefined) {
    const resHeaders = { ...(c.resHeaders ?? {}) };
    if (c.trailers) for (const [k, v] of Object.entries(c.trailers)) (resHeaders[k] ??= []).push(...v);
    const res: NonNullable<RRPair['http']>['res'] = {
      contentType: headerValue(c.resHeaders, 'content-type') ?? '',
      statusCode: c.statusCode,
      statusMessage: `${c.statusCode} ${c.statusMessage ?? STATUS_TEXT[c.statusCode] ?? ''}`.trim(),
      headers: resHeaders,
    };
    if (c.trailers) res.trailers = c.trailers;
    if (c.resBody && c.resBody.bytes.length > 0) res.bodyBase64 = c.resBody.bytes.toString('base64');
    rr.http!.res = res;
  }
  rr.tech = techOf(headerValue(c.resHeaders, 'content-type') ?? contentType);
  return rr;
}

function techOf(ct: string): string {
  if (/json/i.test(ct)) return 'JSON';
  if (/grpc/i.test(ct)) return 'gRPC';
  if (/xml/i.test(ct)) return 'XML';
  if (/html/i.test(ct)) return 'HTML';
  if (/event-stream/i.test(ct)) return 'SSE';
  return 'HTTP';
}

export function toRecord(rr: RRPair, id: Identity, sizeHint?: number): RRRecord {
  const resource: Record<string, string> = {};
  const attributes: Record<string, string> = {};
  if (id.cluster !== 'undefined') resource.cluster = id.cluster;
  if (id.service !== 'undefined') attributes.service = id.service;
  if (id.namespace !== 'undefined') attributes.namespace = id.namespace;
  return newRecord(rr, { resource, attributes, ...(sizeHint !== undefined ? { sizeHint } : {}) });
}
