import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { BodyTap } from '../body.js';
import { headersFromRaw, headerValue, type HttpCapture } from '../rrpair.js';
import { CTX, forwardHeaders, nowMs, offPath, targetHostPort, type ConnCtx, type ProxyOptions, type Target } from './types.js';

/** HTTP/1.x proxying: plain requests, Expect: 100-continue, streaming bodies, upgrades. */
export class Http1Handler {
  readonly server: http.Server;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly opts: ProxyOptions, onConnect: (req: IncomingMessage, socket: Duplex, head: Buffer) => void) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxFreeSockets: 64, rejectUnauthorized: opts.upstreamRejectUnauthorized, ...(opts.upstreamCa ? { ca: opts.upstreamCa } : {}), ALPNProtocols: ['http/1.1'] });
    this.server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 });
    // A client that half-closes after its request still gets the whole response.
    (this.server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.server.on('request', (req, res) => this.handle(req, res, false));
    this.server.on('checkContinue', (req, res) => this.handle(req, res, true));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('connect', onConnect);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // Malformed HTTP from the client: answer as an HTTP server would, count it, keep going.
      opts.count('malformed_http');
      if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.server.closeAllConnections?.();
  }

  private ctxOf(req: IncomingMessage): ConnCtx {
    return ((req.socket as unknown as Record<symbol, ConnCtx>)[CTX]) ?? { tls: false };
  }

  /** Where the request goes, and the path to send there. */
  private route(req: IncomingMessage, ctx: ConnCtx): { target: Target; path: string; host: string } | undefined {
    const url = req.url ?? '/';
    if (ctx.target) {
      const host = req.headers.host ?? ctx.sni ?? ctx.target.host;
      return { target: ctx.target, path: url, host };
    }
    if (/^https?:\/\//i.test(url)) {
      try {
        const u = new URL(url);
        const tls = u.protocol === 'https:';
        return { target: { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (tls ? 443 : 80), tls }, path: (u.pathname || '/') + u.search, host: u.host };
      } catch {
        return undefined;
      }
    }
    if (this.opts.upstream) return { target: this.opts.upstream, path: url, host: req.headers.host ?? this.opts.upstream.host };
    // A forward proxy got an origin-form request: use the Host header (transparent mode).
    if (req.headers.host) {
      const hp = targetHostPort(req.headers.host, ctx.tls ? 443 : 80);
      return { target: { ...hp, tls: ctx.tls }, path: url, host: req.headers.host };
    }
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const opts = this.opts;
    const start = nowMs();
    const ctx = this.ctxOf(req);
    const r = this.route(req, ctx);
    if (!r) {
      opts.count('bad_request_target');
      res.writeHead(400, { 'Content-Type': 'text/plain', Connection: 'close' }).end('rrpipe nettap: cannot tell where to send this request\n');
      return;
    }
    const reqTap = new BodyTap(opts.maxBody);
    const resTap = new BodyTap(opts.maxBody);
    let status: number | undefined;
    let statusMessage: string | undefined;
    let resRaw: string[] | undefined;
    let trailersRaw: string[] | undefined;
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      const end = nowMs();
      offPath(opts, () => {
        const reqHeaders = headersFromRaw(req.rawHeaders);
        const resHeaders = resRaw ? headersFromRaw(resRaw) : undefined;
        const cap: HttpCapture = {
          startMs: start,
          endMs: end,
          direction: opts.direction,
          tls: ctx.tls || r.target.tls,
          version: req.httpVersion,
          method: req.method ?? '',
          target: r.path,
          host: r.host,
          reqHeaders,
          reqBody: reqTap.finish(headerValue(reqHeaders, 'content-encoding')),
          ...(status !== undefined ? { statusCode: status, statusMessage: statusMessage ?? '', resHeaders: resHeaders ?? {}, resBody: resTap.finish(headerValue(resHeaders, 'content-encoding')) } : {}),
          ...(trailersRaw && trailersRaw.length ? { trailers: headersFromRaw(trailersRaw) } : {}),
          net: { clientAddr: ctx.clientAddr, clientPort: ctx.clientPort, serverAddr: r.target.host, serverPort: r.target.port, hostname: r.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), reqBytes: reqTap.wireBytes, resBytes: resTap.wireBytes },
          tags: opts.tags,
          ...(error ? { error } : {}),
        };
        opts.onCapture(cap);
      });
    };

    const mod = r.target.tls ? https : http;
    const upReq = mod.request({
      host: r.target.host,
      port: r.target.port,
      method: req.method,
      path: r.path,
      headers: forwardHeaders(req.rawHeaders) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      agent: r.target.tls ? this.httpsAgent : this.httpAgent,
      ...(r.target.tls ? { servername: ctx.sni ?? (isIpLike(r.target.host) ? undefined : r.target.host) } : {}),
    } as https.RequestOptions);
    if (expectContinue) {
      upReq.on('continue', () => res.writeContinue());
      upReq.flushHeaders();
    }
    upReq.on('response', (upRes) => {
      status = upRes.statusCode ?? 502;
      statusMessage = upRes.statusMessage;
      resRaw = upRes.rawHeaders;
      try {
        res.writeHead(status, upRes.statusMessage ?? '', forwardHeaders(upRes.rawHeaders) as unknown as http.OutgoingHttpHeaders);
        res.flushHeaders(); // streaming responses (SSE) reach the client without delay
      } catch {
        opts.count('bad_upstream_response');
        res.destroy();
        upRes.destroy();
        return;
      }
      upRes.on('data', (c: Buffer) => resTap.write(c));
      upRes.on('end', () => {
        trailersRaw = upRes.rawTrailers;
        if (trailersRaw.length) res.addTrailers(forwardHeaders(trailersRaw) as unknown as http.OutgoingHttpHeaders);
        finish();
      });
      upRes.on('error', () => finish('upstream response aborted'));
      upRes.pipe(res);
    });
    upReq.on('error', (err: NodeJS.ErrnoException) => {
      if (done) return;
      if (!res.headersSent) {
        status = 502;
        statusMessage = 'Bad Gateway';
        resRaw = ['Content-Type', 'text/plain'];
        const msg = `rrpipe nettap: upstream ${r.target.host}:${r.target.port}: ${err.code ?? err.message}\n`;
        resTap.write(msg);
        res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(msg) }).end(msg);
      } else {
        res.destroy();
      }
      finish(`upstream: ${err.code ?? err.message}`);
    });
    req.on('data', (c: Buffer) => reqTap.write(c));
    req.on('error', () => upReq.destroy());
    res.on('close', () => {
      if (!res.writableFinished) {
        upReq.destroy();
        finish('client closed before the response ended');
      }
    });
    req.pipe(upReq);
  }

  /** WebSocket (and other) upgrades: forward the handshake, then pass bytes through both ways. */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const opts = this.opts;
    const start = nowMs();
    const ctx = this.ctxOf(req);
    const r = this.route(req, ctx);
    socket.on('error', () => {});
    if (!r) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const mod = r.target.tls ? https : http;
    const upReq = mod.request({
      host: r.target.host,
      port: r.target.port,
      method: req.method,
      path: r.path,
      headers: forwardHeaders(req.rawHeaders, true) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
      agent: false,
      ...(r.target.tls ? { rejectUnauthorized: opts.upstreamRejectUnauthorized, ...(opts.upstreamCa ? { ca: opts.upstreamCa } : {}), servername: ctx.sni ?? r.target.host } : {}),
    } as https.RequestOptions);
    const record = (statusCode: number, statusMessage: string, rawRes: string[]) => {
      const end = nowMs();
      offPath(opts, () =>
        opts.onCapture({
          startMs: start,
          endMs: end,
          direction: opts.direction,
          tls: ctx.tls || r.target.tls,
          version: req.httpVersion,
          method: req.method ?? 'GET',
          target: r.path,
          host: r.host,
          reqHeaders: headersFromRaw(req.rawHeaders),
          statusCode,
          statusMessage,
          resHeaders: headersFromRaw(rawRes),
          net: { clientAddr: ctx.clientAddr, clientPort: ctx.clientPort, serverAddr: r.target.host, serverPort: r.target.port, hostname: r.host.replace(/:\d+$/, '') },
          tags: { ...opts.tags, upgrade: String(req.headers.upgrade ?? '') },
        }),
      );
    };
    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}`];
      for (let i = 0; i + 1 < upRes.rawHeaders.length; i += 2) lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      socket.on('error', () => upSocket.destroy());
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      record(upRes.statusCode ?? 101, upRes.statusMessage ?? '', upRes.rawHeaders);
    });
    upReq.on('response', (upRes) => {
      // The app refused the upgrade: relay its answer and close.
      const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}`];
      for (let i = 0; i + 1 < upRes.rawHeaders.length; i += 2) if (upRes.rawHeaders[i]!.toLowerCase() !== 'connection') lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
      lines.push('Connection: close');
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      upRes.pipe(socket);
      record(upRes.statusCode ?? 0, upRes.statusMessage ?? '', upRes.rawHeaders);
    });
    upReq.on('error', () => {
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    upReq.end();
  }
}

function isIpLike(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(':');
}
