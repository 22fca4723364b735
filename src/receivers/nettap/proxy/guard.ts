import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { networkInterfaces } from 'node:os';

export interface GuardLimits {
  /** Open connections one client address may hold; 0 = no limit. */
  maxConnectionsPerClient: number;
  /** Sustained requests a second one client address may send (bursts up to twice that); 0 = no limit. */
  requestsPerSecondPerClient: number;
}

/**
 * What keeps the capture proxy from harming the host: requests addressed to one of its own
 * listeners, or that already passed through it (a loop through a relay or a DNS alias), are
 * answered 508 Loop Detected without being forwarded or captured; each client address gets a
 * bounded number of connections and a request rate. Shared by every listener of one receiver.
 *
 * The hop mark is the standard Via header (RFC 9110 §7.6.3) with a pseudonym unique to this
 * receiver instance, so two rrpipe proxies in a chain do not mistake each other for a loop.
 */
export class ProxyGuard {
  readonly pseudonym = `rrpipe-nettap-${randomBytes(6).toString('hex')}`;
  readonly via = `1.1 ${this.pseudonym}`;
  private readonly ports = new Map<number, string>();
  private readonly conns = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private localAddrs?: Set<string>;

  constructor(private readonly limits: GuardLimits) {}

  /** Register a bound listener. */
  addListener(addr: net.AddressInfo): void {
    this.ports.set(addr.port, normalize(addr.address));
  }

  /** A target host:port that is one of this receiver's own listeners. */
  isSelf(host: string, port: number): boolean {
    const bound = this.ports.get(port);
    if (bound === undefined) return false;
    const h = normalize(host.replace(/^\[|\]$/g, '').toLowerCase());
    if (h === bound) return true;
    if (h === 'localhost' || h === '0.0.0.0' || h === '::' || /^127\./.test(h) || h === '::1') return bound === '0.0.0.0' || bound === '::' || isLoopbackAddr(bound) || h === bound;
    if (bound === '0.0.0.0' || bound === '::') return this.local().has(h);
    return false;
  }

  /** The request's Via header already carries this proxy's pseudonym. */
  looped(via: string | string[] | undefined): boolean {
    if (!via) return false;
    const v = Array.isArray(via) ? via.join(',') : via;
    return v.includes(this.pseudonym);
  }

  /** The Via value to forward: the client's, with this hop added. */
  viaWith(existing: string | string[] | undefined): string {
    const v = Array.isArray(existing) ? existing.join(', ') : existing;
    return v ? `${v}, ${this.via}` : this.via;
  }

  /** Take a connection slot for a client; false when it is at its limit. */
  openConnection(client: string): boolean {
    const n = this.conns.get(client) ?? 0;
    if (this.limits.maxConnectionsPerClient > 0 && n >= this.limits.maxConnectionsPerClient) return false;
    this.conns.set(client, n + 1);
    return true;
  }

  closeConnection(client: string): void {
    const n = (this.conns.get(client) ?? 1) - 1;
    if (n <= 0) this.conns.delete(client);
    else this.conns.set(client, n);
  }

  /** Token bucket per client address. */
  admitRequest(client: string, now = Date.now()): boolean {
    const rate = this.limits.requestsPerSecondPerClient;
    if (!(rate > 0)) return true;
    const burst = rate * 2;
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets.clear();
      b = { tokens: burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private local(): Set<string> {
    if (!this.localAddrs) {
      this.localAddrs = new Set(['localhost', '0.0.0.0', '::', '::1']);
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) this.localAddrs.add(normalize(a.address.toLowerCase()));
    }
    return this.localAddrs;
  }
}

function normalize(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function isLoopbackAddr(a: string): boolean {
  return a === '::1' || /^127\./.test(a);
}

export const LOOP_BODY = 'rrpipe nettap: loop detected: this request is addressed to the proxy itself or already passed through it\n';
