import type { AnyConsumer, Component, Consumer, CreateSettings, Host, ReceiverFactory } from '../../core/component.js';
import { address, bool, bytes, duration, int, num, obj, oneOf, str, stringMap, strings, tlsServer, type Config } from '../../config/fragments.js';
import { authBlock, serverAuthenticator } from '../../helpers/auth.js';
import { serverTlsOptions } from '../../helpers/tls.js';
import { OtlpGrpcServer } from './grpc.js';
import { OtlpHttpServer } from './http.js';
import { Ingest } from './ingest.js';
import { Admission } from './admission.js';
import { logsCodec, metricsCodec, type SignalCodec } from './signals.js';
import { DECODABLE } from './decompress.js';

const grpcSchema = obj({
  endpoint: address('localhost:4317', 'host:port to listen on (the Collector\'s default since v0.104: localhost; 0.0.0.0:4317 for all interfaces).'),
  transport: oneOf(['tcp'], 'tcp', 'Only tcp.'),
  tls: tlsServer('Server TLS: cert_file and key_file; client_ca_file requires client certificates (mTLS).'),
  auth: authBlock(),
  max_recv_msg_size_mib: num(4, 'Largest request accepted, in MiB, after decompression.', { exclusiveMinimum: 0 }),
  max_concurrent_streams: int(0, 'Concurrent calls per connection; 0 for no limit.', { minimum: 0 }),
  read_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  write_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  include_metadata: bool(false, 'Pass the request metadata to the pipeline with each batch.'),
  keepalive: obj({
    server_parameters: obj({
      max_connection_idle: duration(undefined, 'Close connections idle this long.'),
      max_connection_age: duration(undefined, 'Close connections after this long.'),
      max_connection_age_grace: duration(undefined, 'Grace period for calls on a closing connection.'),
      time: duration(undefined, 'Ping an idle client after this long.'),
      timeout: duration(undefined, 'Wait this long for a ping answer.'),
    }),
    enforcement_policy: obj({
      min_time: duration(undefined, 'Minimum interval between client pings.'),
      permit_without_stream: bool(undefined, 'Allow client pings with no call open.'),
    }),
  }, { description: 'gRPC keepalive, as the Collector\'s configgrpc.' }),
}, { description: 'OTLP/gRPC (LogsService/Export, MetricsService/Export for the signals of its pipelines).' });

const httpSchema = obj({
  endpoint: address('localhost:4318', 'host:port to listen on (the Collector\'s default since v0.104: localhost; 0.0.0.0:4318 for all interfaces).'),
  tls: tlsServer('Server TLS: cert_file and key_file; client_ca_file requires client certificates (mTLS).'),
  auth: authBlock(),
  cors: obj({
    allowed_origins: strings([], 'Origins allowed to send (may contain *). Empty: CORS off.'),
    allowed_headers: strings([], 'Extra request headers allowed.'),
    max_age: int(0, 'Seconds a browser may cache a preflight answer.', { minimum: 0 }),
  }, { description: 'CORS for browser clients; off unless allowed_origins is set.' }),
  max_request_body_size: bytes('20MiB', 'Largest request accepted, both as sent and after decompression (413 beyond).'),
  compression_algorithms: strings([...DECODABLE], `Content encodings accepted ("" is a body without one; identity counts as ""); any other gets 415. As confighttp's compression_algorithms, less lz4, which rrpipe does not decode. Names: ${DECODABLE.map((d) => `"${d}"`).join(', ')}.`),
  read_timeout: duration('1m', 'Time to read a whole request, headers and body; a sender that has not finished by then gets 408 and the connection is closed (counted as refused, reason read_timeout). 0 = no limit. As confighttp\'s read_timeout (whose default is none).'),
  read_header_timeout: duration('1m', 'Time to read the request headers (at most read_timeout); 0 = read_timeout. As confighttp\'s read_header_timeout.'),
  idle_timeout: duration('1m', 'Close a keep-alive connection idle this long between requests; 0 = read_timeout. As confighttp\'s idle_timeout.'),
  include_metadata: bool(false, 'Pass the request headers to the pipeline with each batch.'),
  logs_url_path: str('/v1/logs', 'Path of the logs endpoint.'),
  traces_url_path: str('/v1/traces', 'Accepted for Collector compatibility; traces are not received (404).'),
  metrics_url_path: str('/v1/metrics', 'Path of the metrics endpoint (served when the receiver is in a metrics pipeline).'),
  response_headers: stringMap('Headers added to every response.'),
}, { description: 'OTLP/HTTP (POST /v1/logs and /v1/metrics, protobuf or JSON).' });

const schema = obj({
  protocols: obj({ grpc: grpcSchema, http: httpSchema }, { description: 'Which transports to serve; a block present (even empty, `grpc:`) turns it on.' }),
  non_rrpair: oneOf(['drop', 'keep'], 'drop', 'A LogRecord whose body is not an RRPair: drop it (counted, reported as rejected in partial success) or keep it as a record.'),
  admission: obj({
    request_limit_mib: num(32, 'Request data (after decompression) held at once by both protocols; a request that would go beyond while others are in flight gets 429 / RESOURCE_EXHAUSTED (retried by OTLP clients). 0 = no bound. As the otelarrow receiver\'s admission.request_limit_mib.', { minimum: 0 }),
  }, { description: 'Bound on in-flight request bytes, so memory stays bounded without a memory_limiter.' }),
});

export type OtlpReceiverConfig = Config<typeof schema>;
export type GrpcProtocolConfig = Config<typeof grpcSchema>;
export type HttpProtocolConfig = Config<typeof httpSchema>;

export class OtlpReceiver implements Component {
  readonly ingest: Ingest;
  grpc?: OtlpGrpcServer;
  http?: OtlpHttpServer;

  readonly codecs: SignalCodec[] = [];

  constructor(private readonly s: CreateSettings<OtlpReceiverConfig>, next: Consumer) {
    this.ingest = new Ingest(s, next);
    const signals = s.signals ?? ['logs'];
    if (signals.includes('logs')) this.codecs.push(logsCodec(this.ingest));
    if (signals.includes('metrics')) this.codecs.push(metricsCodec(s, next as AnyConsumer));
  }

  async start(host: Host): Promise<void> {
    const g = this.s.config.protocols?.grpc;
    const h = this.s.config.protocols?.http;
    const limitBytes = Math.floor((this.s.config.admission?.request_limit_mib ?? 32) * 1024 * 1024);
    const admission = { gate: new Admission(limitBytes), limitBytes };
    try {
      if (g) {
        const tls = serverTlsOptions(g.tls);
        this.grpc = new OtlpGrpcServer(g, this.ingest, this.s.logger, this.s.id, tls, serverAuthenticator(host, g.auth?.authenticator), admission, this.codecs);
        await this.grpc.start();
        this.s.logger.info({ endpoint: g.endpoint, port: this.grpc.port, tls: !!tls }, 'otlp: gRPC receiver listening');
      }
      if (h) {
        const tls = serverTlsOptions(h.tls);
        this.http = new OtlpHttpServer(h, this.ingest, this.s.logger, this.s.id, tls, serverAuthenticator(host, h.auth?.authenticator), admission, this.codecs);
        await this.http.start();
        this.s.logger.info({ endpoint: h.endpoint, port: this.http.port, signals: this.codecs.map((c) => c.signal), tls: !!tls }, 'otlp: HTTP receiver listening');
      }
    } catch (err) {
      await this.shutdown(AbortSignal.timeout(1000));
      throw err;
    }
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    await Promise.all([this.grpc?.shutdown(deadline), this.http?.shutdown(deadline)]);
  }
}

export const factory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  stability: 'beta',
  signals: ['logs', 'metrics'],
  description: 'OTLP logs (one RRPair per LogRecord, as the Speedscale forwarder sends them) and metrics over gRPC (4317) and HTTP (4318).',
  schema,
  validate(c) {
    if (!c.protocols?.grpc && !c.protocols?.http) {
      return [{ path: ['protocols'], message: 'enable at least one protocol (grpc or http)' }];
    }
    const known = new Set<string>(DECODABLE);
    return (c.protocols.http?.compression_algorithms ?? []).flatMap((a, i) => known.has(a) ? [] : [{
      path: ['protocols', 'http', 'compression_algorithms', i],
      message: `${JSON.stringify(a)} is not an encoding this receiver decodes${a === 'lz4' ? ' (rrpipe has no lz4 decoder: remove it; a sender using lz4 must use another compression)' : ''}; use any of ${DECODABLE.map((d) => JSON.stringify(d)).join(', ')}`,
    }]);
  },
  create: (s, next) => new OtlpReceiver(s, next),
};
