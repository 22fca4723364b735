import type * as G from '@grpc/grpc-js';
import { lazyRequire } from '../../helpers/lazy-require.js';

import type { ExporterFactory, Host } from '../../core/component.js';
import { address, bool, duration, exporterHelperProperties, obj, oneOf, secretHeaders, str, tlsClient, type Config, type TlsClientConfig } from '../../config/fragments.js';
import { PermanentError, RetryableError } from '../../core/errors.js';
import { isMetricPoint, type MetricPoint } from '../../core/metric.js';
import type { RRRecord } from '../../core/record.js';
import { authBlock, clientAuthenticator, type ClientAuthenticator } from '../../helpers/auth.js';
import { createExporter } from '../../helpers/exporter.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { decodeLogsResponse, encodeRecords, LOGS_SERVICE_EXPORT_PATH, retryDelayOfStatus } from '../../rrpair/otlp-proto.js';
import { encodeMetricPoints, METRICS_SERVICE_EXPORT_PATH, metricsPartialOf } from '../../rrpair/otlp-metrics-proto.js';

/** @grpc/grpc-js loads only when a gRPC endpoint is configured. */
const grpcLib = lazyRequire<typeof G>('@grpc/grpc-js');

/** gRPC codes the OTLP spec says a client may retry; RESOURCE_EXHAUSTED only with a RetryInfo. */
/** CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS: the codes OTel's exporter retries (codes fixed by the gRPC protocol). */
const RETRYABLE = new Set<number>([1, 4, 10, 11, 14, 15]);

/** "host:port", "http://host:port" (plaintext) or "https://host:port" → target and whether TLS is on. */
export function grpcTarget(endpoint: string, cfgTls: TlsClientConfig | undefined): { target: string; secure: boolean } {
  const m = /^(https?|dns):\/\/(?:\/)?([^/]+)\/?$/.exec(endpoint.trim());
  const scheme = m?.[1];
  const target = m ? m[2]! : endpoint.trim();
  // As configgrpc: http:// is plaintext, https:// TLS, otherwise TLS unless tls.insecure.
  const secure = scheme === 'http' ? false : scheme === 'https' ? true : cfgTls?.insecure !== true;
  return { target, secure };
}

const pass = (b: Buffer) => b;

const schema = obj(
    {
      endpoint: address(undefined, 'host:port of the OTLP/gRPC server; http:// means plaintext, https:// TLS.'),
      tls: tlsClient('Client TLS (on unless the endpoint is http:// or insecure: true).'),
      headers: secretHeaders('Metadata sent with every call; values are treated as secrets.'),
      compression: oneOf(['gzip', 'none', ''], 'gzip', 'Compression of each message.'),
      auth: authBlock(),
      balancer_name: str(undefined, 'Accepted for Collector compatibility; grpc-js picks the first address.'),
      authority: str(undefined, 'Overrides the :authority header.'),
      keepalive: obj({
        time: duration(undefined, 'Ping the server after this long without activity.'),
        timeout: duration(undefined, 'Wait this long for a ping answer.'),
        permit_without_stream: bool(undefined, 'Ping even when no call is open.'),
      }),
      ...exporterHelperProperties({ timeout: '5s' }),
    },
    { required: ['endpoint'] },
  );

export type OtlpGrpcExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<OtlpGrpcExporterConfig> = {
  kind: 'exporter',
  type: 'otlp',
  stability: 'beta',
  signals: ['logs', 'metrics'],
  description: 'Sends records as OTLP logs over gRPC (LogsService/Export), one LogRecord per RRPair, as the Speedscale forwarder does; metrics through MetricsService/Export.',
  schema,
  create: (s) => {
    const c = s.config;
    let client: G.Client | undefined;
    let auth: ClientAuthenticator | undefined;
    const rejected = s.metrics.counter('otlp_exporter_rejected_records', 'Records the OTLP server reported as rejected in a partial-success answer.');
    const rejectedPoints = s.metrics.counter('otlp_exporter_rejected_points', 'Metric data points the OTLP server reported as rejected in a partial-success answer.');
    return createExporter<RRRecord | MetricPoint>(s, {
      async start(host: Host) {
        auth = clientAuthenticator(host, c.auth?.authenticator);
        const { target, secure } = grpcTarget(c.endpoint, c.tls);
        let creds = grpcLib().credentials.createInsecure();
        if (secure) {
          const t = clientTlsOptions(c.tls);
          const buf = (v: unknown) => (v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(([] as unknown[]).concat(v).join('\n')));
          creds = grpcLib().credentials.createSsl(buf(t.ca), buf(t.key), buf(t.cert), t.rejectUnauthorized ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined });
        }
        const opts: G.ChannelOptions = {
          ...(c.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {}),
          ...(c.tls?.server_name_override ? { 'grpc.ssl_target_name_override': c.tls.server_name_override } : {}),
          ...(c.authority ? { 'grpc.default_authority': c.authority } : {}),
          ...(c.keepalive?.time ? { 'grpc.keepalive_time_ms': c.keepalive.time } : {}),
          ...(c.keepalive?.timeout ? { 'grpc.keepalive_timeout_ms': c.keepalive.timeout } : {}),
          ...(c.keepalive?.permit_without_stream ? { 'grpc.keepalive_permit_without_calls': 1 } : {}),
          'grpc.max_send_message_length': -1,
        };
        client = new (grpcLib().Client)(target, creds, opts);
      },
      async push(batch, signal: AbortSignal) {
        const md = new (grpcLib().Metadata)();
        for (const [k, v] of Object.entries(c.headers)) md.set(k.toLowerCase(), v);
        if (auth) for (const [k, v] of Object.entries(await auth.headers())) md.set(k.toLowerCase(), v);
        // A batch holds one signal: the helper's queue and splits never mix the pipelines' batches.
        const metrics = isMetricPoint(batch[0]);
        const body = Buffer.from(metrics ? encodeMetricPoints(batch as MetricPoint[]) : encodeRecords(batch as RRRecord[]));
        const res = await new Promise<Buffer>((resolve, reject) => {
          const call = client!.makeUnaryRequest(metrics ? METRICS_SERVICE_EXPORT_PATH : LOGS_SERVICE_EXPORT_PATH, pass, pass, body, md, { deadline: Date.now() + (c.timeout > 0 ? c.timeout : 3_600_000) }, (err, out) => {
            signal.removeEventListener('abort', onAbort);
            if (!err) return resolve(out ?? Buffer.alloc(0));
            const bin = err.metadata?.get('grpc-status-details-bin')[0];
            const retryAfterMs = bin ? retryDelayOfStatus(bin as Buffer) : undefined;
            const msg = `OTLP/gRPC export failed: ${grpcLib().status[err.code] ?? err.code} ${err.details}`;
            if (RETRYABLE.has(err.code) || (err.code === grpcLib().status.RESOURCE_EXHAUSTED && retryAfterMs !== undefined)) {
              reject(new RetryableError(msg, { ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }));
            } else reject(new PermanentError(msg));
          });
          const onAbort = () => call.cancel();
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (metrics) {
          const p = metricsPartialOf(res);
          if (p && p.rejectedDataPoints > 0) {
            rejectedPoints.inc({}, p.rejectedDataPoints);
            s.logger.warn({ rejected: p.rejectedDataPoints, message: p.errorMessage }, 'otlp: the server rejected some data points (partial success)');
          }
          return;
        }
        const partial = decodeLogsResponse(res);
        if (partial && partial.rejectedLogRecords > 0) {
          rejected.inc({}, partial.rejectedLogRecords);
          s.logger.warn({ rejected: partial.rejectedLogRecords, message: partial.errorMessage }, 'otlp: the server rejected some log records (partial success)');
        }
      },
      async shutdown() {
        client?.close();
      },
    });
  },
};
