import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { BodyTap } from '../body.js';
import { headersFromRaw, headerValue, type HttpCapture } from '../rrpair.js';
import type { Duplex } from 'node:stream';
import { HOP_BY_HOP, nowMs, offPath, type ConnCtx, type ProxyOptions, type Target } from './types.js';
import { LOOP_BODY } from './guard.js';

/** HTTP/2 and gRPC proxying (h2c with prior knowledge, and TLS with ALPN h2), trailers included. */
export class Http2Handler {
  private readonly upstreams = new WeakMap<ServerHttp2Session, ClientHttp2Session>();

  constructor(private readonly opts: ProxyOptions) {}

  /** Serve one client connection (h2c or TLS with ALPN h2); its context travels in the closure. */
  serve(socket: Duplex, ctx: ConnCtx): void {
    const server = http2.createServer({ settings: { enablePush: false } });
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: unknown) => this.handle(stream, headers, rawHeaders as string[], ctx));
    server.on('session', (s: ServerHttp2Session) => {
      s.on('error', () => this.opts.count('http2_session_error'));
      s.on('close', () => this.upstreams.get(s)?.close());
    });
    server.emit('connection', socket);
  }

  private upstreamFor(session: ServerHttp2Session, target: Target, servername?: string): ClientHttp2Session {
    let up = this.upstreams.get(session);
    if (up && !up.closed && !up.destroyed) return up;
    const origin = `${target.tls ? 'https' : 'http'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    up = http2.connect(origin, {
      ...(target.tls ? { ...this.opts.upstreamTls, ...(servername ? { servername } : {}) } : {}),
    });
    up.on('error', () => this.opts.count('http2_upstream_error'));
    this.upstreams.set(session, up);
    return up;
  }

  private handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], ctx: ConnCtx): void {
    const opts = this.opts;
    const start = nowMs();
    const session = stream.session as ServerHttp2Session;
    const target = ctx.target ?? opts.upstream;
    stream.on('error', () => {});
    if (!target) {
      stream.respond({ ':status': 400 });
      stream.end('rrpipe nettap: no upstream for this HTTP/2 connection\n');
      return;
    }
    if (!opts.guard.admitRequest(ctx.clientAddr ?? '')) {
      opts.count('rate_limited');
      stream.respond({ ':status': 429, 'retry-after': '1' });
      stream.end();
      return;
    }
    if (opts.guard.isSelf(target.host, target.port) || opts.guard.looped(headers.via)) {
      opts.count('loop_detected');
      stream.respond({ ':status': 508 });
      stream.end(LOOP_BODY);
      return;
    }
    const method = String(headers[':method'] ?? 'GET');
    const path = String(headers[':path'] ?? '/');
    const authority = String(headers[':authority'] ?? headers.host ?? `${target.host}:${target.port}`);
    const reqTap = new BodyTap(opts.maxBody);
    const resTap = new BodyTap(opts.maxBody);
    let resRaw: string[] | undefined;
    let status: number | undefined;
    let trailers: string[] | undefined;
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      const end = nowMs();
      offPath(opts, () => {
        const reqHeaders = headersFromRaw(rawHeaders);
        const resHeaders = resRaw ? headersFromRaw(resRaw) : undefined;
        const cap: HttpCapture = {
          startMs: start,
          endMs: end,
          direction: opts.direction,
          tls: ctx.tls || target.tls,
          version: '2.0',
          method,
          target: path,
          host: authority,
          reqHeaders,
          reqBody: reqTap.finish(headerValue(reqHeaders, 'content-encoding')),
          ...(status !== undefined ? { statusCode: status, statusMessage: '', resHeaders: resHeaders ?? {}, resBody: resTap.finish(headerValue(resHeaders, 'content-encoding')) } : {}),
          ...(trailers && trailers.length ? { trailers: headersFromRaw(trailers) } : {}),
          net: { clientAddr: ctx.clientAddr, clientPort: ctx.clientPort, serverAddr: target.host, serverPort: target.port, hostname: authority.replace(/:\d+$/, ''), reqBytes: reqTap.wireBytes, resBytes: resTap.wireBytes },
          tags: opts.tags,
          ...(error ? { error } : {}),
        };
        opts.onCapture(cap);
      });
    };

    let up: http2.ClientHttp2Stream;
    try {
      const upHeaders: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && k !== 'host' && k !== 'via' && v !== undefined) upHeaders[k] = v;
      upHeaders.via = opts.guard.viaWith(headers.via);
      up = this.upstreamFor(session, target, ctx.sni).request(upHeaders, { endStream: false });
    } catch (err) {
      status = 502;
      if (!stream.headersSent) stream.respond({ ':status': 502 });
      stream.end();
      finish(`upstream: ${(err as Error).message}`);
      return;
    }
    up.on('response', (h, flags) => {
      status = Number(h[':status'] ?? 502);
      resRaw = flatten(h);
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      try {
        // a headers-only answer (gRPC "trailers-only" errors) must stay one HEADERS frame with END_STREAM
        if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) stream.respond(out, { endStream: true });
        else stream.respond(out, { waitForTrailers: true });
      } catch {
        up.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    up.on('trailers', (t) => {
      trailers = flatten(t);
    });
    stream.on('wantTrailers', () => {
      const t: http2.OutgoingHttpHeaders = {};
      for (let i = 0; trailers && i + 1 < trailers.length; i += 2) t[trailers[i]!] = trailers[i + 1]!;
      try {
        stream.sendTrailers(t);
      } catch {
        stream.close();
      }
    });
    up.on('data', (c: Buffer) => resTap.write(c));
    up.on('end', () => finish());
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!stream.headersSent && !stream.destroyed) {
        status = 502;
        stream.respond({ ':status': 502 });
        stream.end();
      } else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      finish(`upstream: ${err.code ?? err.message}`);
    });
    up.on('close', () => {
      if (!done && up.rstCode && up.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        stream.close(up.rstCode);
        finish(`upstream reset ${up.rstCode}`);
      }
    });
    stream.on('data', (c: Buffer) => reqTap.write(c));
    stream.on('close', () => {
      if (!done) {
        up.close(http2.constants.NGHTTP2_CANCEL);
        finish('client reset the stream');
      }
    });
    up.pipe(stream);
    stream.pipe(up);
  }
}

function flatten(h: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, String(v));
  }
  return out;
}
