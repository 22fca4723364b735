import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ExporterFactory, Host } from '../../core/component.js';
import { address, bytes, exporterHelperProperties, int, obj, oneOf, secretHeaders, tlsClient, type Config } from '../../config/fragments.js';
import { PermanentError, RetryableError } from '../../core/errors.js';
import type { RecordBatch } from '../../core/record.js';
import { authBlock, clientAuthenticator, type ClientAuthenticator } from '../../helpers/auth.js';
import { createExporter } from '../../helpers/exporter.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { recordsToOtlpJson } from '../../rrpair/otlp.js';
import { decodeLogsResponse, decodeStatusMessage, encodeRecords, partialOf } from '../../rrpair/otlp-proto.js';

const gzipAsync = promisify(gzip);

const schema = obj({
  endpoint: address(undefined, 'Base URL; logs go to <endpoint>/v1/logs.'),
  logs_endpoint: address(undefined, 'Full URL for logs, used as it is (overrides endpoint).'),
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
  return new URL(`${c.endpoint!.replace(/\/+$/, '')}/v1/logs`);
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
  description: 'Sends records as OTLP logs over HTTP (protobuf or JSON), one LogRecord per RRPair, as the Speedscale forwarder does.',
  schema,
  validate: (c) => (c.endpoint || c.logs_endpoint ? [] : [{ message: 'set endpoint (or logs_endpoint)' }]),
  create: (s) => {
    const c = s.config;
    const url = logsUrl(c);
    const secure = url.protocol === 'https:';
    let agent: HttpAgent | HttpsAgent | undefined;
    let auth: ClientAuthenticator | undefined;
    const rejected = s.metrics.counter('otlp_exporter_rejected_records', 'Records the OTLP server reported as rejected in a partial-success answer.');
    const contentType = c.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
    return createExporter(s, {
      async start(host: Host) {
        auth = clientAuthenticator(host, c.auth?.authenticator);
        const common = { keepAlive: true, maxFreeSockets: Math.max(1, c.max_idle_conns ?? 100) };
        agent = secure ? new HttpsAgent({ ...common, ...clientTlsOptions(c.tls) }) : new HttpAgent(common);
      },
      async push(batch: RecordBatch, signal: AbortSignal) {
        let body: Buffer = c.encoding === 'json' ? Buffer.from(JSON.stringify(recordsToOtlpJson(batch))) : Buffer.from(encodeRecords(batch));
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
          let partial;
          try {
            partial = isJson ? partialOf(JSON.parse(text.toString() || '{}')) : decodeLogsResponse(text);
          } catch {
            partial = undefined;
          }
          if (partial && partial.rejectedLogRecords > 0) {
            rejected.inc({}, partial.rejectedLogRecords);
            s.logger.warn({ rejected: partial.rejectedLogRecords, message: partial.errorMessage }, 'otlphttp: the server rejected some log records (partial success)');
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
