import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Component, Consumer, CreateSettings, ExporterFactory } from '../../core/component.js';
import { streamKey, type MetricPoint } from '../../core/metric.js';
import { address, bool, duration, obj, str, stringMap, type Config } from '../../config/fragments.js';
import { listenHttp } from '../../helpers/net.js';
import { resourceToTelemetry, toFamily, type PromFamily, type PromOptions } from '../internal/prometheus/translate.js';

const schema = obj({
  endpoint: address(undefined, 'host:port the scrape endpoint (/metrics) listens on.'),
  namespace: str('', 'Prefix added to every metric name.'),
  const_labels: stringMap('Labels added to every series.'),
  send_timestamps: bool(false, 'Write each sample\'s timestamp in the exposition.'),
  metric_expiration: duration('5m', 'A series not updated for this long is no longer exposed.'),
  resource_to_telemetry_conversion: resourceToTelemetry(),
  add_metric_suffixes: bool(true, 'Append unit and _total suffixes to metric names (OTel translation).'),
});

export type PrometheusExporterConfig = Config<typeof schema>;

interface Entry {
  point: MetricPoint;
  seen: number;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function fmtValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/**
 * Renders the text exposition format 0.0.4. Written here rather than through prom-client: its
 * registry holds instruments that are observed one value at a time, while this exporter exposes
 * series it receives already aggregated (histogram bucket counts included).
 */
export function renderExposition(families: PromFamily[], sendTimestamps: boolean): string {
  const byName = new Map<string, PromFamily>();
  for (const f of families) {
    const e = byName.get(f.name);
    if (e) e.series.push(...f.series);
    else byName.set(f.name, { ...f, series: [...f.series] });
  }
  const lines: string[] = [];
  for (const f of [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (f.help) lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.series) {
      const [[, name], ...labels] = s.labels as [[string, string], ...[string, string][]];
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${name}${l} ${fmtValue(s.value)}${sendTimestamps ? ` ${s.tsMs}` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Exposes the metrics it receives on a Prometheus scrape endpoint (OTel's prometheus exporter):
 * the latest value of each series; delta sums and histograms are accumulated into cumulative
 * ones; series not updated within metric_expiration disappear.
 */
class PrometheusExporter implements Component, Consumer<MetricPoint> {
  private readonly series = new Map<string, Entry>();
  private server?: { close(): Promise<void>; port: number };
  private readonly opts: PromOptions;

  constructor(private readonly s: CreateSettings<PrometheusExporterConfig>) {
    const c = s.config;
    this.opts = { namespace: c.namespace, addSuffixes: c.add_metric_suffixes, resourceToLabels: c.resource_to_telemetry_conversion.enabled, constLabels: c.const_labels };
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  async start(): Promise<void> {
    this.server = await listenHttp(this.s.config.endpoint!, 8889, (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.render(Date.now()));
    });
  }

  render(now: number): string {
    const families: PromFamily[] = [];
    for (const [k, e] of this.series) {
      if (now - e.seen > this.s.config.metric_expiration) {
        this.series.delete(k);
        continue;
      }
      families.push(toFamily(e.point, this.opts));
    }
    return renderExposition(families, this.s.config.send_timestamps);
  }

  async consume(batch: MetricPoint[]): Promise<void> {
    const now = Date.now();
    for (const p of batch) {
      const key = streamKey(p);
      const prev = this.series.get(key)?.point;
      let point = p;
      if (p.type === 'sum' && p.temporality === 'delta') {
        const base = prev?.type === 'sum' ? prev.value : 0;
        point = { ...p, temporality: 'cumulative', value: base + p.value };
      } else if (p.type === 'histogram' && p.temporality === 'delta') {
        const same = prev?.type === 'histogram' && prev.bounds.length === p.bounds.length && prev.bounds.every((b, i) => b === p.bounds[i]);
        point = same
          ? { ...p, temporality: 'cumulative', count: prev.count + p.count, sum: prev.sum + p.sum, counts: p.counts.map((c, i) => c + (prev.counts[i] ?? 0)) }
          : { ...p, temporality: 'cumulative' };
      }
      this.series.set(key, { point, seen: now });
    }
  }

  async shutdown(): Promise<void> {
    await this.server?.close();
  }
}

export const factory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  stability: 'alpha',
  signals: ['metrics'],
  description: 'Serves the metrics it receives on a Prometheus scrape endpoint (text exposition format).',
  schema,
  validate: (c) => (c.endpoint ? [] : [{ path: ['endpoint'], message: 'set endpoint (host:port of the scrape endpoint)' }]),
  create: (s) => new PrometheusExporter(s),
};
