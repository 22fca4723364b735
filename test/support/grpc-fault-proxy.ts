import { connect, constants, createServer, type ClientHttp2Session, type Http2Server, type Http2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP/2 (gRPC, plaintext) proxy in front of an emulator that answers chosen calls itself with
 * a gRPC error status, as a throttled or unavailable backend does: a trailers-only response
 * (`grpc-status`, `grpc-message`) without forwarding the call. Every other call is forwarded
 * unchanged, headers, body and trailers.
 */
export class GrpcFaultProxy {
  private server?: Http2Server;
  private upstream?: ClientHttp2Session;
  private sessions = new Set<Http2Session>();
  private faults: { method: RegExp; code: number; message: string; left: number }[] = [];
  /** The calls answered with an error, by path and code. */
  readonly faulted: { path: string; code: number }[] = [];
  port = 0;

  constructor(private readonly target: string) {}

  /** Answer the next `times` calls whose path matches `method` with gRPC status `code`. */
  fail(method: RegExp, code: number, times: number, message = 'injected by GrpcFaultProxy'): void {
    this.faults.push({ method, code, message, left: times });
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.upstream = connect(`http://${this.target}`);
    this.upstream.on('error', () => {});
    this.server = createServer();
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    this.server.on('stream', (stream, headers) => {
      const path = String(headers[':path']);
      const fault = this.faults.find((f) => f.left > 0 && f.method.test(path));
      if (fault) {
        fault.left--;
        this.faulted.push({ path, code: fault.code });
        stream.on('error', () => {});
        stream.resume();
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(fault.code), 'grpc-message': encodeURIComponent(fault.message) }, { endStream: true });
        return;
      }
      const out: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') || k === ':path' || k === ':method') out[k] = v;
      const up = this.upstream!.request(out);
      let trailers: IncomingHttpHeaders | undefined;
      up.on('response', (h) => {
        const res: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') res[k] = v;
        if (!stream.destroyed) stream.respond(res, { waitForTrailers: true });
      });
      up.on('trailers', (t) => (trailers = t));
      stream.on('wantTrailers', () => {
        const t: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(trailers ?? {})) if (!k.startsWith(':')) t[k] = v;
        stream.sendTrailers(t);
      });
      stream.pipe(up);
      up.pipe(stream);
      up.on('error', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
      stream.on('error', () => up.close(constants.NGHTTP2_CANCEL));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.upstream?.destroy();
    for (const s of this.sessions) s.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
