import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, inflate, type ZlibOptions } from 'node:zlib';
import type { Logger } from 'pino';
import type { Context } from '../../core/record.js';
import { listen, splitHostPort } from '../../helpers/net.js';
import { AuthError, type ServerAuthenticator } from '../../helpers/auth.js';
import type { ServerTls } from '../../helpers/tls.js';
import { OtlpDecodeError, statusMessage, type PartialSuccess } from '../../rrpair/otlp-proto.js';
import { bad, DEFAULT_RETRY_AFTER_MS, type Failure, type Ingest, type Outcome } from './ingest.js';
import { admissionRefusal, type Admission, type AdmissionTicket } from './admission.js';
import { logsCodec, type SignalCodec } from './signals.js';
import { BufferPool } from '../../helpers/buffer-pool.js';
import { CorruptEncoding, DecodedTooLarge, unsnappy, unsnappyFramed, unzstd } from './decompress.js';

const gunzipAsync = promisify(gunzip) as (b: Buffer, o: ZlibOptions) => Promise<Buffer>;
const inflateAsync = promisify(inflate) as (b: Buffer, o: ZlibOptions) => Promise<Buffer>;

export type { HttpProtocolConfig } from './index.js';
import type { HttpProtocolConfig } from './index.js';

type Encoding = 'proto' | 'json';

const STATUS_CODE = { invalid: 400, unauthenticated: 401, too_large: 413, unsupported_media_type: 415, backpressure: 429, unavailable: 503 } as const;
/** google.rpc.Code for the Status body of an error response. */
const RPC_CODE = { invalid: 3, unauthenticated: 16, too_large: 8, unsupported_media_type: 3, backpressure: 8, unavailable: 14 } as const;

class BodyTooLarge extends Error {}
/** The bytes received so far cannot be admitted while other requests hold the bound. */
class AdmissionRefused extends Error {}

/** OTLP/HTTP: POST <logs_url_path> (and <metrics_url_path> when it feeds metrics) with application/x-protobuf or application/json, optionally compressed (compression_algorithms). */
export class OtlpHttpServer {
  private server?: Server;
  private readonly inflight = new Set<Promise<unknown>>();
  /** compression_algorithms, "identity" read as "" (no encoding). */
  private readonly encodings: Set<string>;
  port?: number;

  constructor(
    private readonly cfg: HttpProtocolConfig,
    private readonly ingest: Ingest,
    private readonly logger: Logger,
    private readonly receiverId: string,
    private readonly tls: ServerTls | undefined,
    private readonly auth: ServerAuthenticator | undefined,
    private readonly admission?: { gate: Admission; limitBytes: number },
    private readonly codecs: SignalCodec[] = [logsCodec(ingest)],
  ) {
    this.encodings = new Set(cfg.compression_algorithms);
  }

  private codecAt(path: string | undefined): SignalCodec | undefined {
    const signal = path === this.cfg.logs_url_path ? 'logs' : path === this.cfg.metrics_url_path ? 'metrics' : undefined;
    return this.codecs.find((c) => c.signal === signal);
  }

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const p = this.handle(req, res).catch((err) => {
        this.logger.error({ err }, 'otlp http: unexpected error');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        } else res.destroy();
      });
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    };
    const timeouts = serverTimeouts(this.cfg);
    this.server = this.tls
      ? createHttpsServer({
          ...timeouts,
          cert: this.tls.cert,
          key: this.tls.key,
          ...(this.tls.clientCa ? { ca: this.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          ...(this.tls.minVersion ? { minVersion: this.tls.minVersion } : {}),
          ...(this.tls.maxVersion ? { maxVersion: this.tls.maxVersion } : {}),
        }, handler)
      : createHttpServer(timeouts, handler);
    this.server.keepAliveTimeout = timeouts.keepAliveTimeout;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    const { host, port } = splitHostPort(this.cfg.endpoint, 4318);
    this.port = (await listen(this.server, host, port)).port;
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    const closed = new Promise<void>((r) => s.close(() => r()));
    s.closeIdleConnections();
    const force = () => s.closeAllConnections();
    deadline.addEventListener('abort', force, { once: true });
    try {
      await Promise.race([Promise.all(this.inflight), new Promise((r) => deadline.addEventListener('abort', r, { once: true }))]);
      s.closeIdleConnections();
      await closed;
    } finally {
      deadline.removeEventListener('abort', force);
    }
  }

  /**
   * A connection-level error before or while a request is read (Node's own answers, plus counting):
   * a request not read within read_timeout / read_header_timeout gets 408 and is counted as
   * refused (reason read_timeout); unparsable HTTP 400 / 431 (reason bad_http); a peer that went
   * away is just closed.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code = err.code ?? '';
    let answer: string | undefined;
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const c = this.cfg;
      const msg = `request not read in time (read_timeout ${c.read_timeout} ms, read_header_timeout ${c.read_header_timeout || c.read_timeout} ms)`;
      this.ingest.refused('http', bad('invalid', 'read_timeout', msg));
      answer = `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${msg.length + 1}\r\n\r\n${msg}\n`;
    } else if (code.startsWith('HPE_')) {
      this.ingest.refused('http', bad('invalid', 'bad_http', `malformed HTTP: ${err.message}`));
      answer = code === 'HPE_HEADER_OVERFLOW'
        ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n'
        : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
    }
    // As Node does without a listener: answer only when no response has started on this socket.
    const res = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (answer && socket.writable && !res?.headersSent) socket.write(answer);
    socket.destroy(err);
  }

  private cors(req: IncomingMessage, res: ServerResponse): boolean {
    const c = this.cfg.cors;
    const origin = req.headers.origin;
    if (!c || c.allowed_origins.length === 0 || !origin) return false;
    const ok = c.allowed_origins.some((o) => o === '*' || o === origin || (o.includes('*') && new RegExp(`^${o.split('*').map(escapeRe).join('.*')}$`).test(origin)));
    if (!ok) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(this.cfg.response_headers)) res.setHeader(k, v);
    const path = (req.url ?? '').split('?')[0];
    const corsOk = this.cors(req, res);
    const codec = this.codecAt(path);
    if (!codec) {
      this.ingest.refused('http', bad('invalid', 'not_found', 'not found'));
      const served = this.codecs.map((c) => `${c.signal} at ${c.signal === 'logs' ? this.cfg.logs_url_path : this.cfg.metrics_url_path}`);
      return this.plain(req, res, 404, `not found: OTLP ${served.join(', ')}\n`);
    }
    if (req.method === 'OPTIONS' && corsOk) {
      const c = this.cfg.cors!;
      res.setHeader('access-control-allow-methods', 'POST');
      res.setHeader('access-control-allow-headers', ['content-type', 'content-encoding', 'authorization', ...c.allowed_headers].join(', '));
      if (c.max_age > 0) res.setHeader('access-control-max-age', String(c.max_age));
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      this.ingest.refused('http', bad('invalid', 'method_not_allowed', 'method not allowed'));
      res.setHeader('allow', 'POST');
      return this.plain(req, res, 405, 'method not allowed: use POST\n');
    }
    const ctype = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const encoding: Encoding | undefined = ctype === 'application/x-protobuf' ? 'proto' : ctype === 'application/json' ? 'json' : undefined;
    const fail = (f: Failure, enc: Encoding = encoding ?? 'json') => this.failure(req, res, this.ingest.refused('http', f), enc);
    if (this.auth) {
      try {
        await this.auth.authenticate(req.headers);
      } catch (err) {
        return fail(bad('unauthenticated', 'unauthenticated', err instanceof AuthError ? err.message : 'authentication failed'));
      }
    }
    if (!encoding) {
      return fail(bad('unsupported_media_type', 'unsupported_media_type', `unsupported content type "${ctype}": use application/x-protobuf or application/json`));
    }
    const ce = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if (!this.encodings.has(ce === 'identity' ? '' : ce)) {
      const accepted = [...this.encodings].map((e) => e || 'none').join(', ') || 'nothing';
      const why = ce === '' ? 'a body without content encoding' : `content encoding "${ce}"`;
      return fail(bad('unsupported_media_type', 'unsupported_encoding', `unsupported ${why}: compression_algorithms accepts ${accepted}${ce === 'lz4' ? ' (rrpipe does not decode lz4)' : ''}`));
    }
    const ticket = this.admission?.gate.ticket();
    try {
      await this.admitted(req, res, ce, encoding, fail, ticket, codec);
    } finally {
      ticket?.release();
    }
  }

  /** The rest of a request, holding its bytes against the admission bound until it is answered. */
  private async admitted(
    req: IncomingMessage, res: ServerResponse, ce: string, encoding: Encoding, fail: (f: Failure, enc?: Encoding) => void,
    ticket: ReturnType<Admission['ticket']> | undefined, codec: SignalCodec,
  ): Promise<void> {
    const overBound = () => fail(admissionRefusal(this.admission!.limitBytes));
    const limit = this.cfg.max_request_body_size;
    let body: Buffer;
    let pooled: Buffer | undefined;
    try {
      // The bound is charged the bytes as they arrive, not the declared length: a sender that
      // declares megabytes and stalls holds only what it sent (and read_timeout cuts it off).
      const read = await readBody(req, limit, ticket);
      body = read.body;
      if (read.pooled) pooled = body;
      if (ce === 'gzip') body = await gunzipAsync(body, { maxOutputLength: limit });
      // deflate is the zlib format (RFC 1950), as confighttp reads both names with Go's zlib reader.
      else if (ce === 'deflate' || ce === 'zlib') body = await inflateAsync(body, { maxOutputLength: limit });
      else if (ce === 'zstd') body = await unzstd(body, limit);
      else if (ce === 'snappy') body = await unsnappy(body, limit);
      else if (ce === 'x-snappy-framed') body = await unsnappyFramed(body, limit);
    } catch (err) {
      if (pooled) giveBack(pooled);
      if (err instanceof AdmissionRefused) return overBound();
      if (err instanceof CorruptEncoding) return fail(bad('invalid', 'bad_compression', `cannot decompress the body (${ce}): ${err.message}`));
      if (err instanceof BodyTooLarge || err instanceof DecodedTooLarge || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        return fail(bad('too_large', 'too_large', `request body larger than max_request_body_size (${limit} bytes${ce && ce !== 'identity' ? ' after decompression' : ''})`));
      }
      if ((err as { code?: string }).code?.startsWith('Z_')) return fail(bad('invalid', 'bad_compression', `cannot decompress the body (${ce}): ${(err as Error).message}`));
      if (req.destroyed || (err as { code?: string }).code === 'ECONNRESET') return;
      throw err;
    }
    let doc: unknown;
    try {
      if (ticket && !ticket.holdUpTo(Math.max(ticket.held, body.length))) return overBound();
      // JSON must be UTF-8 (RFC 8259 §8.1); decoding would replace bad bytes with U+FFFD silently.
      // (Protobuf string fields are checked by the decoder's own rules.)
      if (encoding === 'json' && !isUtf8(body)) return fail(bad('invalid', 'invalid_utf8', 'the JSON body is not valid UTF-8'));
      doc = encoding === 'proto' ? codec.decodeProto(body) : JSON.parse(body.toString('utf8'));
    } catch (err) {
      if (err instanceof OtlpDecodeError) return fail(bad('invalid', err.reason, err.message));
      return fail(bad('invalid', 'malformed', `invalid JSON: ${(err as Error).message}`));
    } finally {
      // Decoding copied what it keeps: the bytes can serve the next request.
      if (pooled) giveBack(pooled);
    }
    const ac = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) ac.abort(new Error('client went away'));
    };
    res.once('close', onClose);
    const ctx: Context = { signal: ac.signal, receiver: this.receiverId };
    if (this.cfg.include_metadata) ctx.metadata = metadataOf(req);
    const out: Outcome = await codec.deliver(doc, ctx);
    if (!out.ok) {
      if (out.kind !== 'backpressure' && out.kind !== 'unavailable') this.ingest.refused('http', out);
      return this.failure(req, res, out, encoding);
    }
    this.success(res, encoding, codec, out.partial);
  }

  private plain(req: IncomingMessage, res: ServerResponse, code: number, text: string): void {
    drain(req, res);
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
  }

  private success(res: ServerResponse, enc: Encoding, codec: SignalCodec, partial?: PartialSuccess): void {
    if (enc === 'proto') {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(codec.protoResponse(partial));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(codec.jsonResponse(partial));
    }
  }

  /** An error answer: a google.rpc.Status body in the request's encoding, Retry-After when retryable. */
  private failure(req: IncomingMessage, res: ServerResponse, f: Failure, enc: Encoding): void {
    drain(req, res);
    const headers: Record<string, string> = {};
    if (f.kind === 'backpressure' || f.kind === 'unavailable') {
      headers['retry-after'] = String(Math.max(1, Math.ceil((f.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS) / 1000)));
    }
    if (f.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
    const code = RPC_CODE[f.kind];
    if (enc === 'proto') {
      res.writeHead(STATUS_CODE[f.kind], { ...headers, 'content-type': 'application/x-protobuf' });
      res.end(statusMessage(code, f.message));
    } else {
      res.writeHead(STATUS_CODE[f.kind], { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify({ code, message: f.message }));
    }
  }
}

/**
 * Node's request timers from the confighttp keys: requestTimeout (the whole request) is
 * read_timeout, headersTimeout read_header_timeout (Node wants it no longer than requestTimeout;
 * 0 falls back to read_timeout, as in confighttp), keepAliveTimeout idle_timeout (0: read_timeout).
 * Node checks the timers every connectionsCheckingInterval (30 s by default): a quarter of the
 * shortest, so a stalled sender is cut off soon after its time is up.
 */
function serverTimeouts(c: HttpProtocolConfig): { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number } {
  const requestTimeout = c.read_timeout;
  let headersTimeout = c.read_header_timeout || requestTimeout;
  if (requestTimeout > 0 && headersTimeout > requestTimeout) headersTimeout = requestTimeout;
  const keepAliveTimeout = c.idle_timeout || requestTimeout;
  const shortest = Math.min(...[requestTimeout, headersTimeout].filter((t) => t > 0), 20_000);
  return { requestTimeout, headersTimeout, keepAliveTimeout, connectionsCheckingInterval: Math.max(10, Math.floor(shortest / 4)) };
}

/** When answering before the body is read, close the connection so an unread upload cannot linger. */
function drain(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete) {
    res.setHeader('connection', 'close');
    req.resume();
  }
}

/** Request bodies, reused: they are dead once decoded (the decoders copy what they keep). */
const bodies = new BufferPool();

/** The first buffer a body is read into; it grows (doubling, up to the declared length) as bytes come. */
const FIRST_BODY_BUFFER = 64 * 1024;

/**
 * The request body, copied as it comes into a pooled buffer (so neither the chunks nor the body
 * outlive the request as garbage); the caller gives it back to `bodies` once nothing reads it
 * (`pooled`). Each chunk is charged to the admission ticket before it is kept, so a request holds
 * the bound for the bytes it sent, not for the length it declared; the buffer is at most twice
 * that (or one the pool already had).
 */
function readBody(req: IncomingMessage, limit: number, ticket?: AdmissionTicket): Promise<{ body: Buffer; pooled: boolean }> {
  const declared = Number(req.headers['content-length']);
  const known = Number.isInteger(declared) && declared >= 0;
  if (known && declared > limit) return Promise.reject(new BodyTooLarge());
  // With a content-length the parser gives no more than it; chunked bodies stop at the limit.
  const cap = known ? declared : limit;
  return new Promise((resolve, reject) => {
    let into: Buffer | undefined;
    let size = 0;
    const fail = (err: Error) => {
      req.off('data', onData);
      if (into) bodies.give(into);
      into = undefined;
      reject(err);
    };
    const onData = (c: Buffer) => {
      const n = size + c.length;
      if (n > cap) return fail(new BodyTooLarge());
      if (ticket && !ticket.holdUpTo(n)) return fail(new AdmissionRefused());
      if (!into || n > into.length) {
        const b = bodies.take(Math.min(cap, Math.max(n, FIRST_BODY_BUFFER, into ? 2 * into.length : 0)));
        if (into) {
          into.copy(b, 0, 0, size);
          bodies.give(into);
        }
        into = b;
      }
      c.copy(into, size);
      size = n;
    };
    req.on('data', onData);
    req.once('end', () => resolve(into ? { body: into.subarray(0, size), pooled: true } : { body: Buffer.alloc(0), pooled: false }));
    req.once('error', reject);
    req.once('aborted', () => reject(Object.assign(new Error('client aborted'), { code: 'ECONNRESET' })));
  });
}

function giveBack(b: Buffer): void {
  bodies.give(Buffer.from(b.buffer, 0, b.buffer.byteLength));
}

function metadataOf(req: IncomingMessage): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), req.rawHeaders[i + 1]!]);
  }
  return m;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
