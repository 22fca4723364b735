import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
// snappyjs: Snappy's block format (what remote write requires) in plain JavaScript, no native build.
import snappy from 'snappyjs';
import type { ExporterFactory } from '../../core/component.js';
import type { MetricPoint } from '../../core/metric.js';
import { address, bool, bytes, exporterHelperProperties, int, obj, secretHeaders, str, stringMap, tlsClient, type Config } from '../../config/fragments.js';
import { PermanentError, RetryableError } from '../../core/errors.js';
import { createExporter } from '../../helpers/exporter.js';
import { clientTlsOptions } from '../../helpers/tls.js';
import { resourceToTelemetry, toFamily, type PromOptions, type PromSeries } from '../internal/prometheus/translate.js';
import { encodeWriteRequest, groupSeries } from './write-request.js';

const schema = obj({
  endpoint: address(undefined, 'Remote-write URL, e.g. http://prometheus:9090/api/v1/write.'),
  tls: tlsClient('Client TLS for https:// endpoints.'),
  headers: secretHeaders(),
  namespace: str('', 'Prefix added to every metric name.'),
  external_labels: stringMap('Labels added to every series.'),
  resource_to_telemetry_conversion: resourceToTelemetry(),
  add_metric_suffixes: bool(true, 'Append unit and _total suffixes to metric names (OTel translation).'),
  max_batch_size_bytes: bytes(3_000_000, 'Largest uncompressed write request; a larger batch is split.'),
  remote_write_queue: obj({
    enabled: bool(true, 'OTel key: queue in front of the exporter (sets sending_queue.enabled).'),
    queue_size: int(10000, 'OTel key: sets sending_queue.queue_size.', { minimum: 1 }),
    num_consumers: int(5, 'OTel key: sets sending_queue.num_consumers.', { minimum: 1 }),
  }, { description: 'OTel prometheusremotewrite queue settings; when given, they replace sending_queue\'s.' }),
  ...exporterHelperProperties({ timeout: '5s' }),
});

export type PrometheusRemoteWriteConfig = Config<typeof schema>;

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

function readAll(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      if (out.length < limit) out += c;
    });
    res.on('end', () => resolve(out));
    res.on('error', reject);
  });
}

export const factory: ExporterFactory<PrometheusRemoteWriteConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  stability: 'alpha',
  signals: ['metrics'],
  description: 'Pushes metrics to Prometheus remote write 1.0 (protobuf + snappy), with the sending queue, retries and dead letters.',
  schema,
  validate: (c) => (c.endpoint ? [] : [{ path: ['endpoint'], message: 'set endpoint (the remote-write URL)' }]),
  create: (s) => {
    const c = s.config;
    if (c.remote_write_queue) {
      c.sending_queue.enabled = c.remote_write_queue.enabled;
      c.sending_queue.queue_size = c.remote_write_queue.queue_size;
      c.sending_queue.num_consumers = c.remote_write_queue.num_consumers;
    }
    const url = new URL(c.endpoint!);
    const secure = url.protocol === 'https:';
    const agent = secure ? new HttpsAgent({ keepAlive: true, ...clientTlsOptions(c.tls) }) : new HttpAgent({ keepAlive: true });
    const opts: PromOptions = { namespace: c.namespace, addSuffixes: c.add_metric_suffixes, resourceToLabels: c.resource_to_telemetry_conversion.enabled, constLabels: c.external_labels };
    const dropped = (n: number, reason: string) => s.metrics.dropped(n, reason);

    const post = async (body: Uint8Array, signal: AbortSignal) => {
      const compressed = Buffer.from(snappy.compress(body));
      const headers = {
        ...c.headers,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '0.1.0',
        'user-agent': 'rrpipe',
        'content-length': String(compressed.length),
      };
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent, signal }, resolve);
        req.on('error', (err) => reject(new RetryableError(`remote write failed: ${err.message}`, { cause: err })));
        req.end(compressed);
      });
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return;
      const msg = `remote write failed: ${status} ${text.trim().slice(0, 300)}`;
      if (RETRYABLE.has(status)) throw new RetryableError(msg);
      throw new PermanentError(msg);
    };

    return createExporter<MetricPoint>(s, {
      async push(batch, signal) {
        const series: PromSeries[] = [];
        for (const p of batch) {
          // Prometheus has no delta form: the Collector drops delta points here too (put
          // deltatocumulative in front, as the grafana chart does).
          if (p.type !== 'gauge' && p.temporality === 'delta') {
            dropped(1, 'delta_temporality');
            continue;
          }
          series.push(...toFamily(p, opts).series);
        }
        const grouped = groupSeries(series);
        // Split into requests under max_batch_size_bytes (estimated from the label and sample sizes).
        let part: typeof grouped = [];
        let size = 0;
        for (const ts of grouped) {
          const est = ts.labels.reduce((a, [k, v]) => a + k.length + v.length + 4, 0) + ts.samples.length * 20;
          if (part.length && size + est > c.max_batch_size_bytes) {
            await post(encodeWriteRequest(part), signal);
            part = [];
            size = 0;
          }
          part.push(ts);
          size += est;
        }
        if (part.length) await post(encodeWriteRequest(part), signal);
      },
      async shutdown() {
        agent.destroy();
      },
    });
  },
};
