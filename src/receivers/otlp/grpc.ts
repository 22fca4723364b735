import type * as G from '@grpc/grpc-js';
import { lazyRequire } from '../../helpers/lazy-require.js';

import type { Logger } from 'pino';
import type { Context } from '../../core/record.js';
import { joinHostPort, splitHostPort } from '../../helpers/net.js';
import { AuthError, type ServerAuthenticator } from '../../helpers/auth.js';
import type { ServerTls } from '../../helpers/tls.js';
import { encodeStatusWithRetry, OtlpDecodeError } from '../../rrpair/otlp-proto.js';
import { bad, type Failure, type Ingest } from './ingest.js';
import { admissionRefusal, type Admission } from './admission.js';
import { logsCodec, type SignalCodec } from './signals.js';

export type { GrpcProtocolConfig } from './index.js';
import type { GrpcProtocolConfig } from './index.js';

/** @grpc/grpc-js loads only when a gRPC endpoint is configured. */
const grpcLib = lazyRequire<typeof G>('@grpc/grpc-js');

const passthrough = (b: Buffer) => b;

/** An OTLP service definition (LogsService, MetricsService), with bytes in and out: decoding happens in the handler so errors get a proper status. */
export const serviceDefinition = (path: string): G.ServiceDefinition => ({
  Export: {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
});

/** gRPC status codes (fixed by the gRPC protocol: INVALID_ARGUMENT 3, RESOURCE_EXHAUSTED 8, UNAVAILABLE 14, UNAUTHENTICATED 16). */
const GRPC_CODE = {
  invalid: 3,
  unauthenticated: 16,
  too_large: 8,
  unsupported_media_type: 3,
  backpressure: 8,
  unavailable: 14,
} as const;

/** OTLP/gRPC: opentelemetry.proto.collector.{logs,metrics}.v1.{Logs,Metrics}Service/Export, for the signals the receiver feeds. */
export class OtlpGrpcServer {
  private server?: G.Server;
  private readonly inflight = new Set<Promise<unknown>>();
  port?: number;

  constructor(
    private readonly cfg: GrpcProtocolConfig,
    private readonly ingest: Ingest,
    private readonly logger: Logger,
    private readonly receiverId: string,
    private readonly tls: ServerTls | undefined,
    private readonly auth: ServerAuthenticator | undefined,
    private readonly admission?: { gate: Admission; limitBytes: number },
    private readonly codecs: SignalCodec[] = [logsCodec(ingest)],
  ) {}

  async start(): Promise<void> {
    const c = this.cfg;
    const ka = c.keepalive ?? {};
    const sp = ka.server_parameters ?? {};
    const ep = ka.enforcement_policy ?? {};
    const opts: G.ServerOptions = {
      'grpc.max_receive_message_length': Math.floor(c.max_recv_msg_size_mib * 1024 * 1024),
      ...(c.max_concurrent_streams > 0 ? { 'grpc.max_concurrent_streams': c.max_concurrent_streams } : {}),
      ...(sp.max_connection_idle ? { 'grpc.max_connection_idle_ms': sp.max_connection_idle } : {}),
      ...(sp.max_connection_age ? { 'grpc.max_connection_age_ms': sp.max_connection_age } : {}),
      ...(sp.max_connection_age_grace ? { 'grpc.max_connection_age_grace_ms': sp.max_connection_age_grace } : {}),
      ...(sp.time ? { 'grpc.keepalive_time_ms': sp.time } : {}),
      ...(sp.timeout ? { 'grpc.keepalive_timeout_ms': sp.timeout } : {}),
      ...(ep.min_time ? { 'grpc.http2.min_ping_interval_without_data_ms': ep.min_time } : {}),
      ...(ep.permit_without_stream !== undefined ? { 'grpc.keepalive_permit_without_calls': ep.permit_without_stream ? 1 : 0 } : {}),
    };
    const server = new (grpcLib().Server)(opts);
    for (const codec of this.codecs) {
      server.addService(serviceDefinition(codec.grpcPath), {
        Export: (call: G.ServerUnaryCall<Buffer, Buffer>, cb: G.sendUnaryData<Buffer>) => {
          const p = this.export(call, cb, codec).catch((err) => {
            this.logger.error({ err }, 'otlp grpc: unexpected error');
            cb({ code: grpcLib().status.INTERNAL, details: 'internal error' });
          });
          this.inflight.add(p);
          void p.finally(() => this.inflight.delete(p));
        },
      });
    }
    const creds = this.tls
      ? grpcLib().ServerCredentials.createSsl(this.tls.clientCa ?? null, [{ cert_chain: this.tls.cert, private_key: this.tls.key }], !!this.tls.clientCa)
      : grpcLib().ServerCredentials.createInsecure();
    const { host, port } = splitHostPort(c.endpoint, 4317);
    const addr = joinHostPort(host, port);
    this.port = await new Promise<number>((resolve, reject) => server.bindAsync(addr, creds, (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
  }

  private async export(call: G.ServerUnaryCall<Buffer, Buffer>, cb: G.sendUnaryData<Buffer>, codec: SignalCodec): Promise<void> {
    const fail = (f: Failure) => {
      const md = new (grpcLib().Metadata)();
      if (f.kind === 'backpressure' || f.kind === 'unavailable') {
        md.set('grpc-status-details-bin', Buffer.from(encodeStatusWithRetry(GRPC_CODE[f.kind], f.message, f.retryAfterMs)));
      }
      cb({ code: GRPC_CODE[f.kind], details: f.message, metadata: md });
    };
    if (this.auth) {
      try {
        await this.auth.authenticate(headersOf(call.metadata));
      } catch (err) {
        return fail(this.ingest.refused('grpc', bad('unauthenticated', 'unauthenticated', err instanceof AuthError ? err.message : 'authentication failed')));
      }
    }
    const ticket = this.admission?.gate.ticket();
    if (ticket && !ticket.holdUpTo(call.request.length)) return fail(this.ingest.refused('grpc', admissionRefusal(this.admission!.limitBytes)));
    try {
      await this.decodeAndDeliver(call, cb, fail, codec);
    } finally {
      ticket?.release();
    }
  }

  private async decodeAndDeliver(call: G.ServerUnaryCall<Buffer, Buffer>, cb: G.sendUnaryData<Buffer>, fail: (f: Failure) => void, codec: SignalCodec): Promise<void> {
    let doc: unknown;
    try {
      doc = codec.decodeProto(call.request);
    } catch (err) {
      if (err instanceof OtlpDecodeError) return fail(this.ingest.refused('grpc', bad('invalid', err.reason, err.message)));
      throw err;
    }
    const ac = new AbortController();
    call.once('cancelled', () => ac.abort(new Error('client cancelled')));
    const ctx: Context = { signal: ac.signal, receiver: this.receiverId };
    if (this.cfg.include_metadata) ctx.metadata = metadataOf(call.metadata);
    const out = await codec.deliver(doc, ctx);
    if (!out.ok) {
      if (out.kind !== 'backpressure' && out.kind !== 'unavailable') this.ingest.refused('grpc', out);
      return fail(out);
    }
    cb(null, Buffer.from(codec.protoResponse(out.partial)));
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    const force = () => s.forceShutdown();
    deadline.addEventListener('abort', force, { once: true });
    try {
      await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
    } finally {
      deadline.removeEventListener('abort', force);
    }
  }
}

function headersOf(md: G.Metadata): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(md.toJSON())) {
    const strs = (v as (string | Buffer)[]).map((x) => (typeof x === 'string' ? x : x.toString('base64')));
    out[k] = strs.length === 1 ? strs[0]! : strs;
  }
  return out;
}

function metadataOf(md: G.Metadata): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of Object.entries(md.toJSON())) m.set(k, (v as (string | Buffer)[]).map((x) => (typeof x === 'string' ? x : x.toString('base64'))));
  return m;
}
