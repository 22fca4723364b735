import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ExporterFactory, Host } from '../../core/component.js';
import { address, bytes, exporterHelperProperties, int, obj, oneOf, secretHeaders, tlsClient, type Config } from '../../config/fragments.js';
import { PermanentError, RetryableError } from '../../core/errors.js';
import { isMetricPoint, type MetricPoint } from '../../core/metric.js';
import type { RRRecord } from '../../core/record.js';
import { authBlock, clientAuthenticator, type ClientAuthenticator } from '../../helpers/auth.js';
import { createExporter } from '../../helpers/exporter.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { recordsToOtlpJson } from '../../rrpair/otlp.js';
import { decodeLogsResponse, decodeStatusMessage, encodeRecords, partialOf } from '../../rrpair/otlp-proto.js';
import { pointsToMetricsRequest } from '../../rrpair/otlp-metrics.js';
import { encodeMetricPoints, metricsPartialOf } from '../../rrpair/otlp-metrics-proto.js';

const gzipAsync = promisify(gzip);

const schema = obj({
  endpoint: address(undefined, 'Base URL; logs go to <endpoint>/v1/logs, metrics to <endpoint>/v1/metrics.'),
  logs_endpoint: address(undefined, 'Full URL for logs, used as it is (overrides endpoint).'),
  metrics_endpoint: address(undefined, 'Full URL for metrics, used as it is (overrides endpoint + /v1/metrics).'),
  tls: tlsClient('Client TLS for https:// endpoints.'),
  headers: secretHeaders('Headers sent with every request (e.g. Authorization, X-Api-Key); values are treated as secrets.'),
  compression: oneOf(['gzip', 'none', ''], 'gzip', 'Request body compression.'),
  encoding: oneOf(['proto', 'json'], 'proto', 'application/x-protobuf or application/json.'),
  auth: authBlock(),
  max_idle_conns: int(100, 'Idle keep-alive connections kept open.', { minimum: 0 }),
  read_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  write_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  ...exporterHelperProperties({ timeout: '30s' }),
});

export type OtlpHttpExporterConfig = Config<typeof schema>;

/** The logs URL: logs_endpoint as it is, or endpoint + /v1/logs. */
export function logsUrl(c: Pick<OtlpHttpExporterConfig, 'endpoint' | 'logs_endpoint'>): URL {
  if (c.logs_endpoint) return new URL(c.logs_endpoint);
  if (!c.endpoint) throw new Error('otlphttp: set endpoint or logs_endpoint to send logs');
  return new URL(`${c.endpoint.replace(/\/+$/, '')}/v1/logs`);
}

/** The metrics URL: metrics_endpoint as it is, or endpoint + /v1/metrics. */
export function metricsUrl(c: Pick<OtlpHttpExporterConfig, 'endpoint' | 'metrics_endpoint'>): URL | undefined {
  if (c.metrics_endpoint) return new URL(c.metrics_endpoint);
  return c.endpoint ? new URL(`${c.endpoint.replace(/\/+$/, '')}/v1/metrics`) : undefined;
}

/** Retry-After as seconds or an HTTP date → milliseconds. */
export function retryAfterMs(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const s = Number(v.trim());
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** Status codes the OTLP/HTTP spec says a client may retry. */
const RETRYABLE = new Set([429, 502, 503, 504]);

function readAll(res: IncomingMessage, limit = 4 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= limit) chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

export const factory: ExporterFactory<OtlpHttpExporterConfig> = {
  kind: 'exporter',
  type: 'otlphttp',
  aliases: ['otlp_http'],
  stability: 'beta',
  signals: ['logs', 'metrics'],
  description: 'Sends records as OTLP logs over HTTP (protobuf or JSON), one LogRecord per RRPair, as the Speedscale forwarder does; metrics to /v1/metrics.',
  schema,
  validate: (c) => (c.endpoint || c.logs_endpoint || c.metrics_endpoint ? [] : [{ message: 'set endpoint (or logs_endpoint / metrics_endpoint)' }]),
  create: (s) => {
    const c = s.config;
    const urls = {
      logs: c.endpoint || c.logs_endpoint ? logsUrl(c) : undefined,
      metrics: metricsUrl(c),
    };
    const secure = (urls.logs ?? urls.metrics)!.protocol === 'https:';
    let agent: HttpAgent | HttpsAgent | undefined;
    let auth: ClientAuthenticator | undefined;
    const rejected = s.metrics.counter('otlp_exporter_rejected_records', 'Records the OTLP server reported as rejected in a partial-success answer.');
    const rejectedPoints = s.metrics.counter('otlp_exporter_rejected_points', 'Metric data points the OTLP server reported as rejected in a partial-success answer.');
    const contentType = c.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
    return createExporter<RRRecord | MetricPoint>(s, {
      async start(host: Host) {
        auth = clientAuthenticator(host, c.auth?.authenticator);
        const common = { keepAlive: true, maxFreeSockets: Math.max(1, c.max_idle_conns ?? 100) };
        agent = secure ? new HttpsAgent({ ...common, ...clientTlsOptions(c.tls) }) : new HttpAgent(common);
      },
      async push(batch, signal: AbortSignal) {
        // A batch holds one signal: the helper's queue and splits never mix the pipelines' batches.
        const metrics = isMetricPoint(batch[0]);
        const url = metrics ? urls.metrics : urls.logs;
        if (!url) throw new PermanentError(`otlphttp: no ${metrics ? 'metrics' : 'logs'} endpoint configured`);
        const points = batch as MetricPoint[];
        const records = batch as RRRecord[];
        let body: Buffer = c.encoding === 'json'
          ? Buffer.from(JSON.stringify(metrics ? pointsToMetricsRequest(points) : recordsToOtlpJson(records)))
          : Buffer.from(metrics ? encodeMetricPoints(points) : encodeRecords(records));
        const headers: Record<string, string> = { ...c.headers, 'content-type': contentType };
        if (c.compression === 'gzip') {
          body = await gzipAsync(body);
          headers['content-encoding'] = 'gzip';
        }
        if (auth) Object.assign(headers, await auth.headers());
        headers['content-length'] = String(body.length);
        const res = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent, signal }, resolve);
          req.on('error', (err) => reject(signal.aborted ? new RetryableError(`OTLP/HTTP export timed out`, { cause: err }) : new RetryableError(`OTLP/HTTP export failed: ${err.message}`, { cause: err })));
          req.end(body);
        });
        const text = await readAll(res);
        const status = res.statusCode ?? 0;
        const isJson = (res.headers['content-type'] ?? '').includes('json');
        if (status >= 200 && status < 300) {
          // A partial success names how many items the server refused (log records or data points).
          let refused: { n: number; message: string } | undefined;
          try {
            const body = isJson ? (JSON.parse(text.toString() || '{}') as object) : text;
            if (metrics) {
              const p = metricsPartialOf(body);
              refused = p && { n: p.rejectedDataPoints, message: p.errorMessage };
            } else {
              const p = isJson ? partialOf(body) : decodeLogsResponse(text);
              refused = p && { n: p.rejectedLogRecords, message: p.errorMessage };
            }
          } catch {
            refused = undefined;
          }
          if (refused && refused.n > 0) {
            (metrics ? rejectedPoints : rejected).inc({}, refused.n);
            s.logger.warn({ rejected: refused.n, message: refused.message }, `otlphttp: the server rejected some ${metrics ? 'data points' : 'log records'} (partial success)`);
          }
          return;
        }
        let detail = isJson ? (() => { try { return (JSON.parse(text.toString()) as { message?: string }).message; } catch { return undefined; } })() : decodeStatusMessage(text);
        detail ??= text.toString('utf8', 0, Math.min(text.length, 200));
        const msg = `OTLP/HTTP export failed: ${status}${detail ? ` ${detail}` : ''}`;
        if (RETRYABLE.has(status)) {
          const after = retryAfterMs(res.headers['retry-after'] as string | undefined);
          throw new RetryableError(msg, after !== undefined ? { retryAfterMs: after } : {});
        }
        throw new PermanentError(msg);
      },
      async shutdown() {
        agent?.destroy();
      },
    });
  },
};
