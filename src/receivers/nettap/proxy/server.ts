import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { listen } from '../../../helpers/net.js';
import { newUuid, rfc3339 } from '../rrpair.js';
import { Http1Handler } from './http1.js';
import { Http2Handler } from './http2.js';
import { CTX, hostMatches, nowMs, offPath, targetHostPort, type ConnCtx, type ProxyOptions, type Target } from './types.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * One capturing proxy listener: inbound (reverse, to the app) or outbound (forward, with CONNECT
 * and TLS interception). Sniffs each connection: TLS ClientHello, HTTP/2 preface or HTTP/1.x.
 */
export class CaptureProxy {
  private readonly server: net.Server;
  private readonly h1: Http1Handler;
  private readonly h2: Http2Handler;
  private readonly sockets = new Set<net.Socket>();
  private readonly alpnCache = new Map<string, Promise<string>>();

  constructor(private readonly opts: ProxyOptions) {
    this.h1 = new Http1Handler(opts, (req, socket, head) => this.connect(req, socket, head));
    this.h2 = new Http2Handler(opts);
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const ctx: ConnCtx = { tls: false, ...(opts.upstream ? { target: opts.upstream } : {}), ...(socket.remoteAddress ? { clientAddr: socket.remoteAddress } : {}), ...(socket.remotePort ? { clientPort: socket.remotePort } : {}) };
      this.dispatch(socket, ctx, opts.upstream?.tls ?? false);
    });
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return listen(this.server, host, port);
  }

  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      for (const s of this.sockets) s.destroy();
      this.h1.close();
    });
  }

  /** Look at the first bytes of a connection and hand it to TLS, HTTP/2 or HTTP/1.x. */
  private dispatch(socket: Duplex, ctx: ConnCtx, mayTerminateTls: boolean): void {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first[0] === 0x16 && (mayTerminateTls || ctx.target !== undefined) && this.opts.ca) {
        void this.terminateTls(prefixed(socket, first), ctx);
        return;
      }
      const isH2 = first.length >= 3 && first.subarray(0, Math.min(first.length, H2_PREFACE.length)).equals(H2_PREFACE.subarray(0, Math.min(first.length, H2_PREFACE.length)));
      const s = withPrefix(socket, first);
      (s as unknown as Record<symbol, ConnCtx>)[CTX] = ctx;
      if (isH2) this.h2.serve(s, ctx);
      else this.h1.server.emit('connection', s);
    });
  }

  /** Which protocol the upstream picks by ALPN (so the client is offered only what the upstream speaks). */
  private upstreamAlpn(t: Target, servername: string): Promise<string> {
    const key = `${t.host}:${t.port}:${servername}`;
    let p = this.alpnCache.get(key);
    if (!p) {
      p = new Promise<string>((resolve) => {
        const s = tls.connect({ host: t.host, port: t.port, servername: net.isIP(servername) ? undefined : servername, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: this.opts.upstreamRejectUnauthorized, ...(this.opts.upstreamCa ? { ca: this.opts.upstreamCa } : {}) } as tls.ConnectionOptions);
        const timer = setTimeout(() => s.destroy(), 5000);
        s.on('secureConnect', () => {
          clearTimeout(timer);
          resolve(s.alpnProtocol || 'http/1.1');
          s.end();
        });
        s.on('error', () => {
          clearTimeout(timer);
          this.alpnCache.delete(key);
          resolve('http/1.1');
        });
      });
      this.alpnCache.set(key, p);
    }
    return p;
  }

  private async terminateTls(socket: Duplex, ctx: ConnCtx): Promise<void> {
    const ca = this.opts.ca!;
    const target = ctx.target!;
    const alpn = await this.upstreamAlpn({ ...target, tls: true }, target.host);
    const tlsSocket = new tls.TLSSocket(socket as net.Socket, {
      isServer: true,
      secureContext: ca.contextFor(target.host),
      SNICallback: (name, cb) => {
        try {
          cb(null, ca.contextFor(name));
        } catch (err) {
          cb(err as Error);
        }
      },
      ALPNProtocols: alpn === 'h2' ? ['h2', 'http/1.1'] : ['http/1.1'],
    });
    tlsSocket.on('error', () => this.opts.count('tls_handshake_failed'));
    tlsSocket.once('secure', () => {
      const servername = (tlsSocket as unknown as { servername?: string }).servername;
      const c: ConnCtx = { ...ctx, tls: true, target: { ...target, tls: true }, ...(servername ? { sni: servername } : {}) };
      (tlsSocket as unknown as Record<symbol, ConnCtx>)[CTX] = c;
      // node's HTTP/2 session cannot sit directly on a TLS socket that wraps a JS stream: give it a plain duplex
      if (tlsSocket.alpnProtocol === 'h2') this.h2.serve(prefixed(tlsSocket, Buffer.alloc(0)), c);
      else this.h1.server.emit('connection', tlsSocket);
    });
    socket.resume();
  }

  /** CONNECT host:port: intercept (terminate TLS with our CA) or pass the tunnel through and record its metadata. */
  private connect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const opts = this.opts;
    socket.on('error', () => {});
    if (opts.direction !== 'OUT') {
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const { host, port } = targetHostPort(req.url ?? '', 443);
    if (!host || !port || port > 65535) {
      opts.count('bad_connect_target');
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const parent = ((req.socket as unknown as Record<symbol, ConnCtx>)[CTX]) ?? { tls: false };
    const intercept = opts.interceptTls && opts.ca !== undefined && !hostMatches(host, opts.noIntercept);
    if (intercept) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) socket.unshift(head);
      this.dispatch(socket, { ...parent, tls: false, target: { host, port, tls: false } }, true);
      return;
    }
    this.tunnel(socket, head, host, port, parent);
  }

  private tunnel(socket: Duplex, head: Buffer, host: string, port: number, ctx: ConnCtx): void {
    const opts = this.opts;
    const start = nowMs();
    let up = 0;
    let down = 0;
    let firstByte: number | undefined = head.length ? head[0] : undefined;
    let status = 200;
    const upstream = net.connect({ host, port, noDelay: true });
    upstream.on('connect', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) {
        up += head.length;
        upstream.write(head);
      }
      socket.on('data', (c: Buffer) => {
        if (firstByte === undefined) firstByte = c[0];
        up += c.length;
      });
      upstream.on('data', (c: Buffer) => (down += c.length));
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (up === 0 && down === 0 && socket.writable) {
        status = 502;
        socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      } else socket.destroy();
      void err;
    });
    socket.on('close', () => upstream.destroy());
    let recorded = false;
    upstream.on('close', () => {
      socket.destroy();
      if (recorded) return;
      recorded = true;
      const end = nowMs();
      offPath(opts, () =>
        opts.onTunnel({
          msgType: 'rrpair',
          resource: 'nettap',
          ts: rfc3339(start),
          l7protocol: firstByte === 0x16 ? 'https' : 'tcp',
          duration: Math.round(end - start),
          tags: { ...opts.tags, intercepted: 'false', tunnel: 'true' },
          uuid: newUuid(),
          direction: opts.direction,
          network_address: `${host}:${port}`,
          command: 'CONNECT',
          location: `${host}:${port}`,
          status: String(status),
          netinfo: { upstream: { hostname: host, port }, ...(ctx.clientAddr ? { downstream: { address: ctx.clientAddr, port: ctx.clientPort } } : {}), requestBytes: up, responseBytes: down },
        }),
      );
    });
  }
}

/** A stream that yields `first` and then the socket's data (peeking without losing bytes, also under TLS). */
function withPrefix(socket: Duplex, first: Buffer): Duplex {
  if (socket instanceof net.Socket && !(socket instanceof tls.TLSSocket)) {
    // A plain TCP socket: put the bytes back and keep the real socket (fast path, remote address kept).
    socket.unshift(first);
    process.nextTick(() => socket.resume());
    return socket;
  }
  return prefixed(socket, first);
}

export function prefixed(socket: Duplex, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  if (first.length) d.push(first);
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  socket.on('close', () => d.destroy());
  return d;
}
