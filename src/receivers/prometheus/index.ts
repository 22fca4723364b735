import type { AnyConsumer, Component, ConfigProblem, CreateSettings, ReceiverFactory } from '../../core/component.js';
import type { MetricPoint, Scope } from '../../core/metric.js';
import type { Attrs } from '../../core/record.js';
import { duration, list, obj, oneOf, raw, str, strings, stringMap, type Config } from '../../config/fragments.js';
import { errorMessage } from '../../core/errors.js';
import { RE2JS } from 're2js';
import { compileRelabel, RELABEL_ACTIONS, type RelabelRule } from './relabel.js';
import { parseExposition } from './parse.js';

const relabel = obj({
  source_labels: strings([], 'Labels whose values are joined with separator and matched.'),
  separator: str(';', 'Joins the source label values.'),
  regex: str('(.*)', 'RE2 pattern, anchored at both ends.'),
  target_label: str(undefined, 'Label written by replace, lowercase and uppercase.'),
  replacement: str('$1', 'Value (replace) or label name (labelmap), with $1… from the match.'),
  action: oneOf(RELABEL_ACTIONS, 'replace', 'What the rule does.'),
});

const scrapeConfig = obj({
  job_name: str(undefined, 'The job label of every target of this config.'),
  scrape_interval: duration(undefined, 'How often targets are scraped (default: global.scrape_interval).'),
  scrape_timeout: duration(undefined, 'Time limit for one scrape (default: global.scrape_timeout).'),
  metrics_path: str('/metrics', 'HTTP path scraped on each target.'),
  scheme: oneOf(['http', 'https'], 'http', 'URL scheme.'),
  static_configs: list(obj({ targets: strings([], 'host:port of each target.'), labels: stringMap('Labels added to every series of these targets.') }), [], 'Fixed target lists.'),
  relabel_configs: list(relabel, [], 'Relabelling of each target (keep, drop, replace, labelmap, labeldrop, labelkeep).'),
}, { required: ['job_name'] });

const schema = obj({
  config: obj({
    global: obj({
      scrape_interval: duration('1m', 'Default interval between scrapes.'),
      scrape_timeout: duration('10s', 'Default time limit for one scrape.'),
      external_labels: stringMap('Labels added to every series scraped.'),
    }, { default: {} }),
    scrape_configs: list(scrapeConfig, [], 'Scrape jobs, as in prometheus.yml.'),
  }, { default: {}, description: 'A Prometheus scrape configuration (the supported subset of prometheus.yml).' }),
  // OTel prometheusreceiver keys with no meaning for static targets, accepted so configs load unchanged.
  trim_metric_suffixes: raw<boolean>({ type: 'boolean', default: false, description: 'Remove _total and unit suffixes from counter names.' }),
});

export type PrometheusReceiverConfig = Config<typeof schema>;
type ScrapeConfig = PrometheusReceiverConfig['config']['scrape_configs'][number];

const SCOPE: Scope = { name: 'rrpipe/receiver/prometheus', version: '' };

interface Target {
  job: string;
  url: string;
  instance: string;
  labels: Attrs;
  interval: number;
  timeout: number;
}

/** Targets of one scrape config after relabelling (a dropped target is left out). */
export function targetsOf(sc: ScrapeConfig, global: PrometheusReceiverConfig['config']['global']): Target[] {
  const rel = compileRelabel(sc.relabel_configs as RelabelRule[]);
  const out: Target[] = [];
  for (const group of sc.static_configs) {
    for (const address of group.targets) {
      const base = new Map<string, string>([['job', sc.job_name], ['__address__', address], ['__scheme__', sc.scheme], ['__metrics_path__', sc.metrics_path], ...Object.entries(group.labels)]);
      const l = rel(base);
      if (!l) continue;
      const addr = l.get('__address__') ?? address;
      const labels: Attrs = {};
      for (const [k, v] of l) if (!k.startsWith('__') && k !== 'job' && k !== 'instance') labels[k] = v;
      out.push({
        job: l.get('job') ?? sc.job_name,
        url: `${l.get('__scheme__') ?? sc.scheme}://${addr}${l.get('__metrics_path__') ?? sc.metrics_path}`,
        instance: l.get('instance') ?? addr,
        labels: { ...global.external_labels, ...labels },
        interval: sc.scrape_interval ?? global.scrape_interval,
        timeout: sc.scrape_timeout ?? Math.min(global.scrape_timeout, sc.scrape_interval ?? global.scrape_interval),
      });
    }
  }
  return out;
}

/**
 * Scrapes Prometheus text-format endpoints on an interval (OTel's prometheus receiver, static
 * targets): counters become cumulative monotonic sums, gauges and untyped gauges, histograms
 * explicit-bucket histograms; job and instance become service.name and service.instance.id on
 * the resource. Each scrape also reports `up` (1 or 0). An unreachable or failing target is logged
 * and counted (rrpipe_prometheus_scrape_failures_total), never fatal.
 */
class PrometheusReceiver implements Component {
  private timers: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly aborter = new AbortController();
  private readonly failures;
  private readonly starts = new Map<string, bigint>();
  private stopped = false;

  constructor(private readonly s: CreateSettings<PrometheusReceiverConfig>, private readonly next: AnyConsumer) {
    this.failures = s.metrics.counter('prometheus_scrape_failures', 'Scrapes that failed (target unreachable, bad answer, refused downstream).', ['job', 'instance', 'reason']);
  }

  async start(): Promise<void> {
    const cfg = this.s.config.config;
    for (const sc of cfg.scrape_configs) {
      for (const t of targetsOf(sc, cfg.global)) {
        const tick = () => {
          if (this.stopped) return;
          const p = this.scrape(t).finally(() => this.inflight.delete(p));
          this.inflight.add(p);
        };
        const first = setTimeout(tick, Math.min(1000, t.interval) * Math.random());
        const every = setInterval(tick, t.interval);
        first.unref?.();
        this.timers.push(first, every);
      }
    }
  }

  async scrape(t: Target): Promise<void> {
    const timeNs = BigInt(Date.now()) * 1_000_000n;
    const resource: Attrs = { 'service.name': t.job, 'service.instance.id': t.instance };
    const startNs = this.starts.get(t.url) ?? timeNs;
    this.starts.set(t.url, startNs);
    let points: MetricPoint[] = [];
    let up = 1;
    try {
      const res = await fetch(t.url, { signal: AbortSignal.any([AbortSignal.timeout(t.timeout), this.aborter.signal]), headers: { accept: 'text/plain;version=0.0.4' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      points = parseExposition(await res.text(), { resource, scope: SCOPE, extra: t.labels, startNs, timeNs });
    } catch (err) {
      up = 0;
      if (this.stopped) return;
      this.failures.inc({ job: t.job, instance: t.instance, reason: 'scrape' });
      this.s.logger.warn({ target: t.url, job: t.job, err: errorMessage(err) }, 'prometheus receiver: scrape failed');
    }
    points.push({ type: 'gauge', name: 'up', description: 'Whether the last scrape of the target succeeded.', unit: '', resource, scope: SCOPE, attributes: { ...t.labels }, startNs: 0n, timeNs, value: up });
    try {
      await this.next.consume(points, { receiver: this.s.id });
    } catch (err) {
      this.failures.inc({ job: t.job, instance: t.instance, reason: 'refused' });
      this.s.logger.warn({ target: t.url, err: errorMessage(err) }, 'prometheus receiver: the pipeline refused a scrape');
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([...this.inflight]);
    this.aborter.abort();
  }
}

export const factory: ReceiverFactory<PrometheusReceiverConfig> = {
  kind: 'receiver',
  type: 'prometheus',
  stability: 'alpha',
  signals: ['metrics'],
  description: 'Scrapes Prometheus text-format /metrics endpoints (static_configs, relabel_configs) into metrics.',
  schema,
  validate: (c) => {
    const out: ConfigProblem[] = [];
    c.config.scrape_configs.forEach((sc, i) => {
      sc.relabel_configs.forEach((r, j) => {
        try {
          RE2JS.compile(r.regex);
        } catch (err) {
          out.push({ path: ['config', 'scrape_configs', i, 'relabel_configs', j, 'regex'], message: `invalid RE2 regex: ${errorMessage(err)}` });
        }
      });
    });
    return out;
  },
  create: (s, next) => new PrometheusReceiver(s, next),
};
