import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { endpointOf, statusClass } from '../../src/connectors/rrpairmetrics/endpoint.js';
import { silentLogger } from '../../src/core/logger.js';
import { deriveCLS } from '../../src/rrpair/derive.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { Service } from '../../src/service/service.js';
import { freePort, missing, startPrometheus, tmp, trafficSamples, waitFor, type PrometheusServer, type PromVector } from '../support/index.js';

const DASHBOARDS = join(import.meta.dirname, '../../dashboards/grafana');
const BOUNDS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000];

interface Panel { title: string; targets: { expr: string; refId: string }[] }
const dashboard = (f: string) => JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as { uid: string; panels: Panel[] };

/** Grafana's variables as "All" and a concrete range, so the expression runs as the dashboard runs it. */
const asGrafana = (e: string) => e.replace(/\$(cluster|namespace|service|component)\b/g, '.*').replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h');
/** The same expression over the running totals (cumulative counters since the start): values comparable to the input. */
const overTotals = (e: string) => asGrafana(e).replace(/\b(rate|increase)\(/g, 'last_over_time(');

/** Prometheus's histogram_quantile over cumulative bucket counts (linear interpolation within the bucket). */
function quantile(q: number, durations: number[]): number {
  const counts = BOUNDS.map((b) => durations.filter((d) => d <= b).length);
  const total = durations.length;
  const rank = q * total;
  let i = counts.findIndex((c) => c >= rank);
  if (i < 0) return BOUNDS[BOUNDS.length - 1]!;
  const lower = i === 0 ? 0 : BOUNDS[i - 1]!;
  const below = i === 0 ? 0 : counts[i - 1]!;
  const inBucket = counts[i]! - below;
  return lower + (BOUNDS[i]! - lower) * ((rank - below) / inBucket);
}

function group<K>(rrs: RRPair[], key: (r: RRPair) => K): Map<K, RRPair[]> {
  const m = new Map<K, RRPair[]>();
  for (const r of rrs) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
  return m;
}

const byLabels = (v: PromVector[], ...labels: string[]) => new Map(v.map((x) => [labels.map((l) => x.metric[l] ?? '').join('|'), Number(x.value[1])]));

describe.skipIf(missing('prometheus', 'apt-get install prometheus; .ci/setup.d/metrics.sh'))('shipped Grafana dashboards against a real Prometheus fed by rrpairmetrics', () => {
  let prom: PrometheusServer;
  let service: Service;
  const rrs = trafficSamples();
  const sent = [...rrs, ...rrs]; // two passes, so every series has two samples for rate()
  const http = sent.filter((r) => r.l7protocol === 'http' || r.l7protocol === 'https');

  beforeAll(async () => {
    const [scrapePort, telemetryPort] = [await freePort(), await freePort()];
    prom = await startPrometheus({ scrape: [{ job: 'rrpipe-scrape', target: `127.0.0.1:${scrapePort}` }, { job: 'rrpipe', target: `127.0.0.1:${telemetryPort}` }] });
    const dir = tmp('rrpipe-dash-');
    writeFileSync(join(dir, 'a.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    service = new Service({
      files: ['t.yaml'],
      texts: {
        't.yaml': `
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: true, poll_interval: 200ms }
processors:
  filter/https:
    logs: { log_record: ['body["l7protocol"] == "https"'] }
  batch: { timeout: 100ms }
connectors:
  rrpairmetrics: {}
exporters:
  prometheusremotewrite:
    endpoint: ${prom.url}/api/v1/write
    remote_write_queue: { num_consumers: 1 }
  prometheus:
    endpoint: 127.0.0.1:${scrapePort}
    namespace: scrape
  file:
    path: ${dir}/out/plain.jsonl
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { address: "127.0.0.1:${telemetryPort}" } }
  pipelines:
    logs: { receivers: [file], exporters: [rrpairmetrics] }
    logs/plain-http: { receivers: [file], processors: [filter/https], exporters: [file] }
    metrics/rw: { receivers: [rrpairmetrics], processors: [batch], exporters: [prometheusremotewrite] }
    metrics/scrape: { receivers: [rrpairmetrics], exporters: [prometheus] }
`,
      },
      registry: await builtinRegistry(),
      logger: silentLogger(),
    });
    await service.start();
    const total = async () => Number((await prom.query('sum(rrpair_calls_total)'))[0]?.value[1] ?? 0);
    await waitFor(async () => (await total()) === rrs.length, { what: 'first pass in Prometheus', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2500));
    writeFileSync(join(dir, 'b.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await waitFor(async () => (await total()) === sent.length, { what: 'second pass in Prometheus', timeoutMs: 60_000 });
    await waitFor(async () => Number((await prom.query('sum(scrape_rrpair_calls_total)'))[0]?.value[1] ?? 0) === sent.length, { what: 'the scrape endpoint scraped', timeoutMs: 60_000 });
    await waitFor(async () => Number((await prom.query('sum(rrpipe_records_received_total{component="rrpairmetrics"})'))[0]?.value[1] ?? 0) === sent.length, { what: 'rrpipe /metrics scraped after the second pass', timeoutMs: 60_000 });
    // rate() and increase() over scraped series need two scrapes inside their window.
    for (const job of ['rrpipe', 'rrpipe-scrape']) {
      await waitFor(async () => Number((await prom.query(`count_over_time(up{job="${job}"}[1m])`))[0]?.value[1] ?? 0) >= 2, { what: `two scrapes of ${job}`, timeoutMs: 60_000 });
    }
  }, 180_000);

  afterAll(async () => {
    await service?.shutdown().catch(() => undefined);
    await prom?.stop();
  });

  it('every PromQL expression of every shipped dashboard runs and returns data', async () => {
    const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(['rrpipe-self.json', 'rrpipe-traffic.json']);
    // Panels that show losses are empty when nothing was lost; every other panel must show data.
    const mayBeEmpty = new Set(['Refused (backpressure) per component', 'Dead-lettered per exporter', 'Export failures per exporter']);
    for (const f of files) {
      for (const p of dashboard(f).panels) {
        for (const t of p.targets) {
          const res = await prom.query(asGrafana(t.expr));
          if (!mayBeEmpty.has(p.title)) expect(res.length, `${f}: ${p.title} (${t.refId}) returned no series`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('traffic dashboard: rates, errors, mixes and top endpoints carry the counts of the input', async () => {
    const panels = new Map(dashboard('rrpipe-traffic.json').panels.map((p) => [p.title, p.targets]));
    const run = async (title: string, i = 0) => prom.query(overTotals(panels.get(title)![i]!.expr));
    const bySvc = group(sent, (r) => String(r.service));
    expect(byLabels(await run('Request rate by service'), 'service')).toEqual(new Map([...bySvc].map(([k, v]) => [k, v.length])));
    const errs = byLabels(await run('Error ratio by service'), 'service');
    for (const [k, v] of bySvc) expect(errs.get(k)).toBeCloseTo(v.filter((r) => String(r.status).startsWith('5')).length / v.length, 9);
    expect(byLabels(await run('Status mix'), 'status_class')).toEqual(new Map([...group(sent, (r) => statusClass(String(r.status)))].map(([k, v]) => [k, v.length])));
    expect(byLabels(await run('Protocol mix'), 'protocol')).toEqual(new Map([...group(sent, (r) => String(r.l7protocol))].map(([k, v]) => [k, v.length])));
    const ep = (r: RRPair) => `${r.service}|${endpointOf(String(r.l7protocol), deriveCLS(r).location, deriveCLS(r).command)}`;
    const byEp = [...group(sent, ep)].map(([k, v]) => [k, v.length] as const).sort((a, b) => b[1] - a[1]);
    const top = byLabels(await run('Top endpoints by calls'), 'service', 'endpoint');
    expect(top.size).toBe(Math.min(10, byEp.length));
    for (const [k, v] of top) expect(byEp.find(([e]) => e === k)?.[1]).toBe(v);
    const dirs = byLabels(await run('Calls by direction'), 'direction');
    expect(dirs).toEqual(new Map([...group(sent, (r) => String(r.direction))].map(([k, v]) => [k, v.length])));
    expect(http.length).toBe(sent.length);
  });

  it('traffic dashboard: p50/p95/p99 per service and p95 per endpoint are histogram_quantile over rrpipe\'s histogram, matching the input durations', async () => {
    const panels = new Map(dashboard('rrpipe-traffic.json').panels.map((p) => [p.title, p.targets]));
    const bySvc = group(sent, (r) => String(r.service));
    for (const [i, q] of [0.5, 0.95, 0.99].entries()) {
      const got = byLabels(await prom.query(overTotals(panels.get('Latency p50 / p95 / p99 by service')![i]!.expr)), 'service');
      expect(got.size).toBe(bySvc.size);
      for (const [svc, v] of bySvc) expect(got.get(svc)).toBeCloseTo(quantile(q, v.map((r) => Number(r.duration))), 6);
    }
    const byEp = group(sent, (r) => `${r.service}|${endpointOf(String(r.l7protocol), deriveCLS(r).location, deriveCLS(r).command)}`);
    const p95 = byLabels(await prom.query(overTotals(panels.get('Latency p95 by endpoint')![0]!.expr)), 'service', 'endpoint');
    expect(p95.size).toBe(byEp.size);
    for (const [k, v] of byEp) expect(p95.get(k)).toBeCloseTo(quantile(0.95, v.map((r) => Number(r.duration))), 6);
    const mean = byLabels(await prom.query(overTotals(panels.get('Mean latency by endpoint')![0]!.expr)), 'service', 'endpoint');
    for (const [k, v] of byEp) expect(mean.get(k)).toBeCloseTo(v.reduce((a, r) => a + Number(r.duration), 0) / v.length, 6);
  });

  it('the prometheus exporter\'s scrape endpoint gives Prometheus the same totals as remote write', async () => {
    const rw = byLabels(await prom.query('sum by (service, endpoint, status_class) (rrpair_calls_total)'), 'service', 'endpoint', 'status_class');
    const scraped = byLabels(await prom.query('sum by (service, endpoint, status_class) (scrape_rrpair_calls_total)'), 'service', 'endpoint', 'status_class');
    expect(scraped).toEqual(rw);
    const b1 = await prom.query('sum(scrape_rrpair_duration_milliseconds_bucket{le="+Inf"})');
    expect(Number(b1[0]!.value[1])).toBe(sent.length);
  });

  it('rrpipe dashboard: received, sent, queue fill and memory show the run', async () => {
    const panels = new Map(dashboard('rrpipe-self.json').panels.map((p) => [p.title, p.targets]));
    const received = byLabels(await prom.query(overTotals(panels.get('Records received per component')![0]!.expr)), 'kind', 'component');
    expect(received.get('receiver|file')).toBe(sent.length);
    expect(received.get('connector|rrpairmetrics')).toBe(sent.length);
    const sentBy = byLabels(await prom.query(overTotals(panels.get('Records sent per exporter')![0]!.expr)), 'component');
    expect(sentBy.get('prometheusremotewrite')).toBeGreaterThan(0);
    const fill = byLabels(await prom.query(asGrafana(panels.get('Queue fill')![0]!.expr)), 'component');
    expect(fill.get('prometheusremotewrite')).toBeGreaterThanOrEqual(0);
    const dropped = byLabels(await prom.query(overTotals(panels.get('Dropped per component and reason')![0]!.expr)), 'component', 'reason');
    expect(dropped.get('filter/https|filtered')).toBe(sent.filter((r) => r.l7protocol === 'https').length);
    const mem = await prom.query(asGrafana(panels.get('Memory')![0]!.expr));
    expect(Number(mem[0]!.value[1])).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('rrpipe dashboard: export latency p50 / p95 / p99 per exporter are the quantiles of the push-duration buckets Prometheus scraped from rrpipe', async () => {
    const panels = new Map(dashboard('rrpipe-self.json').panels.map((p) => [p.title, p.targets]));
    const at = Date.now() / 1000;
    const buckets = await prom.query('sum by (le, component) (last_over_time(rrpipe_exporter_send_duration_seconds_bucket[1h]))', at);
    const perExporter = new Map<string, [number, number][]>();
    for (const v of buckets) perExporter.set(v.metric.component!, [...(perExporter.get(v.metric.component!) ?? []), [Number(v.metric.le === '+Inf' ? Infinity : v.metric.le), Number(v.value[1])]]);
    // The remote-write exporter pushed at least once, so it has a latency series.
    expect(perExporter.get('prometheusremotewrite')?.at(-1)).toBeDefined();
    /** histogram_quantile as Prometheus computes it over cumulative buckets (linear inside a bucket; the +Inf bucket answers the largest finite bound). */
    const quantileOf = (q: number, cum: [number, number][]) => {
      const b = [...cum].sort((x, y) => x[0] - y[0]);
      const total = b.at(-1)![1];
      const rank = q * total;
      const i = b.findIndex(([, c]) => c >= rank);
      if (b[i]![0] === Infinity) return b[i - 1]![0];
      const [lower, below] = i === 0 ? [0, 0] : b[i - 1]!;
      return lower + (b[i]![0] - lower) * ((rank - below) / (b[i]![1] - below));
    };
    for (const [i, q] of [0.5, 0.95, 0.99].entries()) {
      const got = byLabels(await prom.query(overTotals(panels.get('Export latency p50 / p95 / p99 per exporter')![i]!.expr), at), 'component');
      expect([...got.keys()].sort()).toEqual([...perExporter.keys()].sort());
      for (const [component, cum] of perExporter) expect(got.get(component), `${component} p${q * 100}`).toBeCloseTo(quantileOf(q, cum), 9);
    }
  });
});
