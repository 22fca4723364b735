import type { Logger } from 'pino';
import { parseHostPort, type HostPort } from '../../../helpers/net.js';
import type { CertAuthority } from './ca.js';
import type { HttpCapture } from '../rrpair.js';
import type { RRPair } from '../../../rrpair/types.js';

/** Where a connection's requests go. */
export interface Target {
  host: string;
  port: number;
  tls: boolean;
}

/** What the proxy knows about one client connection. */
export interface ConnCtx {
  /** The client spoke TLS to us (we terminated it). */
  tls: boolean;
  /** Fixed upstream: the inbound app, or a CONNECT target. Forward-proxy plain requests carry their own. */
  target?: Target;
  clientAddr?: string;
  clientPort?: number;
  sni?: string;
}

export interface ProxyOptions {
  direction: 'IN' | 'OUT';
  /** Inbound: the application's address. */
  upstream?: Target;
  interceptTls: boolean;
  /** Hosts (exact, or "*.suffix") whose CONNECT tunnels are passed through without interception. */
  noIntercept: string[];
  ca?: CertAuthority;
  /** Verify upstream TLS certificates. */
  upstreamRejectUnauthorized: boolean;
  upstreamCa?: string;
  maxBody: number;
  tags: Record<string, string>;
  logger: Logger;
  /** Called, off the data path, with each finished exchange. Must not throw (errors are swallowed). */
  onCapture(c: HttpCapture): void;
  onTunnel(rr: RRPair): void;
  /** Count something that went wrong without harming traffic (bad input, capture errors). */
  count(reason: string): void;
}

export const CTX = Symbol.for('rrpipe.nettap.ctx');

/** Connection-level headers that a proxy must not forward (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade', 'http2-settings']);

/** Forwardable raw headers [k, v, ...]; `keepUpgrade` keeps Connection/Upgrade for WebSocket. */
export function forwardHeaders(raw: readonly string[], keepUpgrade = false, dropTE = false): string[] {
  const conn = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'connection') for (const t of raw[i + 1]!.split(',')) conn.add(t.trim().toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (keepUpgrade && (k === 'connection' || k === 'upgrade')) {
      out.push(raw[i]!, raw[i + 1]!);
      continue;
    }
    if (HOP_BY_HOP.has(k) || (conn.has(k) && !(keepUpgrade && k === 'upgrade'))) continue;
    if (dropTE && k === 'transfer-encoding') continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Run a capture callback later and never let it fail the data path. */
export function offPath(opts: ProxyOptions, fn: () => void): void {
  setImmediate(() => {
    try {
      fn();
    } catch (err) {
      opts.count('capture_error');
      opts.logger.debug({ err }, 'nettap: capture failed');
    }
  });
}

export function hostMatches(host: string, patterns: string[]): boolean {
  const h = host.toLowerCase();
  return patterns.some((p) => {
    const q = p.toLowerCase();
    return q.startsWith('*.') ? h.endsWith(q.slice(1)) || h === q.slice(2) : h === q;
  });
}

/** host:port of a Host header or CONNECT target; never throws: a value that does not parse is kept whole as the host. */
export function targetHostPort(s: string, defPort: number): HostPort {
  const hp = parseHostPort(s, defPort);
  return hp && hp.host !== '' ? hp : { host: s, port: defPort };
}
