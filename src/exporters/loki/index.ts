import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { STATUS_CODES } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ExporterFactory, Host } from '../../core/component.js';
import { address, bool, bytes, exporterHelperProperties, int, obj, oneOf, secretHeaders, tlsClient, type Config } from '../../config/fragments.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { RecordBatch } from '../../core/record.js';
import { authBlock, clientAuthenticator, type ClientAuthenticator } from '../../helpers/auth.js';
import { createExporter } from '../../helpers/exporter.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { batchToRequests, type TenantRequest } from './convert.js';
import { encodeJsonPush, encodeProtobufPush } from './push.js';

const gzipAsync = promisify(gzip);

const schema = obj({
  endpoint: address(undefined, 'The push URL, e.g. http://loki:3100/loki/api/v1/push.'),
  default_labels_enabled: obj(
    {
      exporter: bool(undefined, 'Add exporter="OTLP".'),
      job: bool(undefined, 'Add job from service.namespace/service.name.'),
      instance: bool(undefined, 'Add instance from service.instance.id.'),
      level: bool(undefined, 'Add level from the severity (rrpipe records carry none).'),
    },
    { description: 'Default labels to turn off (a label left out stays on).' },
  ),
  headers: secretHeaders('Headers sent with every request (e.g. X-Scope-OrgID for a fixed tenant); values are treated as secrets.'),
  tls: tlsClient('Client TLS for https:// endpoints.'),
  auth: authBlock(),
  compression: oneOf(['', 'none', 'gzip'], '', 'Content-Encoding of the body (the protobuf body is snappy-compressed in any case).'),
  max_idle_conns: int(100, 'Idle keep-alive connections kept open.', { minimum: 0 }),
  read_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  write_buffer_size: bytes(undefined, 'Accepted for Collector compatibility; no effect.'),
  encoding: oneOf(['protobuf', 'json'], 'protobuf', 'rrpipe: protobuf + snappy (as the OTel exporter sends) or the JSON push format.'),
  entry_timestamp: oneOf(['log_record', 'observed', 'rrpair'], 'log_record', 'rrpipe: the entry time: the log record\'s time as the OTel exporter takes it (else when rrpipe received the record), always when rrpipe received it, or the RRPair\'s ts.'),
  ...exporterHelperProperties({ timeout: '30s' }),
});

export type LokiExporterConfig = Config<typeof schema>;

/** The longest part of an error answer kept in the reason (the contrib exporter's maxErrMsgLen). */
const MAX_ERR_MSG = 1024;

function retryAfterMs(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const s = Number(v.trim());
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function readHead(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      if (n < limit) chunks.push(c.subarray(0, limit - n));
      n += c.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

export const factory: ExporterFactory<LokiExporterConfig> = {
  kind: 'exporter',
  type: 'loki',
  stability: 'beta',
  description: 'Pushes records to Grafana Loki (push API, protobuf + snappy or JSON) with labels from the loki.* attribute hints, as the OTel Collector contrib loki exporter.',
  schema,
  validate: (c) => {
    if (!c.endpoint) return [{ path: ['endpoint'], message: '"endpoint" must be a valid URL' }];
    try {
      const u = new URL(c.endpoint);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return [{ path: ['endpoint'], message: 'endpoint must be an http:// or https:// URL' }];
    } catch {
      return [{ path: ['endpoint'], message: '"endpoint" must be a valid URL' }];
    }
    return [];
  },
  create: (s) => {
    const c = s.config;
    const url = new URL(c.endpoint!);
    const secure = url.protocol === 'https:';
    let agent: HttpAgent | HttpsAgent | undefined;
    let auth: ClientAuthenticator | undefined;
    const options = { defaultLabelsEnabled: c.default_labels_enabled ?? {}, timestamp: c.entry_timestamp };

    async function send(req: TenantRequest, signal: AbortSignal): Promise<void> {
      let body = c.encoding === 'json' ? encodeJsonPush(req.streams) : encodeProtobufPush(req.streams);
      const headers: Record<string, string> = { ...c.headers };
      headers['content-type'] = c.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
      if (c.compression === 'gzip') {
        body = await gzipAsync(body);
        headers['content-encoding'] = 'gzip';
      }
      if (auth) Object.assign(headers, await auth.headers());
      // The tenant hint wins over a configured X-Scope-OrgID header (exporter.go sets it last).
      if (req.tenant) {
        for (const k of Object.keys(headers)) if (k.toLowerCase() === 'x-scope-orgid') delete headers[k];
        headers['X-Scope-OrgID'] = req.tenant;
      }
      headers['content-length'] = String(body.length);
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const r = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent, signal }, resolve);
        r.on('error', (err) => reject(new RetryableError(signal.aborted ? 'Loki push timed out' : `Loki push failed: ${err.message}`, { cause: err })));
        r.end(body);
      });
      const text = await readHead(res, MAX_ERR_MSG);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return;
      const msg = `HTTP ${status} "${STATUS_CODES[status] ?? ''}": ${text.split('\n')[0]}`;
      // 4xx other than 429 can never succeed (invalid labels, too old, too large): dead-lettered.
      if (status >= 400 && status < 500 && status !== 429) throw new PermanentError(msg);
      const after = retryAfterMs(res.headers['retry-after'] as string | undefined);
      throw new RetryableError(msg, after !== undefined ? { retryAfterMs: after } : {});
    }

    return createExporter(s, {
      async start(host: Host) {
        auth = clientAuthenticator(host, c.auth?.authenticator);
        const common = { keepAlive: true, maxFreeSockets: Math.max(1, c.max_idle_conns ?? 100) };
        agent = secure ? new HttpsAgent({ ...common, ...clientTlsOptions(c.tls) }) : new HttpAgent(common);
      },
      async push(batch: RecordBatch, signal: AbortSignal) {
        const { requests, failures } = batchToRequests(batch, options);
        const failed: ItemFailure[] = failures.map((f) => ({ index: f.index, reason: f.reason, retryable: false }));
        // One request per tenant; a tenant's failure fails only its own records.
        let lastError: unknown;
        for (const req of requests) {
          try {
            await send(req, signal);
          } catch (err) {
            if (signal.aborted) throw err;
            lastError = err;
            const retryable = err instanceof RetryableError;
            for (const index of req.indices) failed.push({ index, reason: (err as Error).message, retryable });
          }
        }
        if (failed.length === 0) return;
        if (failed.length === batch.length && requests.length <= 1 && lastError) throw lastError;
        throw new PartialFailureError(failed);
      },
      async shutdown() {
        agent?.destroy();
      },
    });
  },
};
