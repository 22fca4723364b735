import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { ExporterFactory } from '../../src/core/component.js';
import { obj, str } from '../../src/config/fragments.js';
import type { MetricPoint } from '../../src/core/metric.js';
import type { RRPair } from '../../src/rrpair/types.js';
import type { Registry } from '../../src/core/registry.js';
import { parse, stringify } from 'yaml';
import { allSamples } from './samples.js';
import { testRegistry } from './capture.js';

/** Metric points captured per exporter label. */
export const metricSinks = new Map<string, MetricPoint[]>();

/** A metrics exporter for tests: keeps the points it receives in `metricSinks`. */
export const metricCaptureExporter: ExporterFactory<{ label: string }> = {
  kind: 'exporter',
  type: 'metriccapture',
  stability: 'development',
  signals: ['metrics'],
  description: 'test: captures metric points in memory',
  schema: obj({ label: str('') }),
  create: (s) => {
    const key = s.config.label || s.id;
    if (!metricSinks.has(key)) metricSinks.set(key, []);
    return {
      async start() {},
      async shutdown() {},
      async consume(batch: MetricPoint[]) {
        metricSinks.get(key)!.push(...batch);
      },
    };
  },
};

export async function metricsTestRegistry(): Promise<Registry> {
  const r = await testRegistry();
  r.register(metricCaptureExporter);
  return r;
}

const SERVICES = ['chat', 'files', 'jobs'];
const STATUSES = ['200', '200', '404', '200', '500', '201'];

/**
 * The sample RRPairs given the spread a traffic dashboard needs: three services, several statuses,
 * two namespaces and directions, and every fifth one left as HTTPS (which the grafana chart's
 * http-only filter drops). Durations, paths and sizes are the samples' own.
 */
export function trafficSamples(): RRPair[] {
  return allSamples().map((rr, i) => ({
    ...rr,
    cluster: 'test-cluster',
    namespace: i % 2 ? 'ns-a' : 'ns-b',
    service: SERVICES[i % SERVICES.length]!,
    status: STATUSES[i % STATUSES.length]!,
    l7protocol: i % 5 === 4 ? 'https' : 'http',
    direction: i % 7 === 6 ? 'IN' : 'OUT',
  }));
}

/** What the grafana chart's count and sum connectors should produce from `rrs`: HTTP only, by service (and status). */
export function expectedTraffic(rrs: RRPair[]): { calls: Map<string, number>; durationSum: Map<string, number> } {
  const calls = new Map<string, number>();
  const durationSum = new Map<string, number>();
  for (const rr of rrs) {
    if (rr.l7protocol !== 'http') continue;
    const k = `${rr.service}|${rr.status}`;
    calls.set(k, (calls.get(k) ?? 0) + 1);
    durationSum.set(String(rr.service), (durationSum.get(String(rr.service)) ?? 0) + Number(rr.duration));
  }
  return { calls, durationSum };
}

export const LATENCIES = [5, 50, 60, 500, 5000];
export const EXP_VALUES = [2, 3, 4, 8, 100];

/**
 * Records a fixed set of instruments through the real OTel JS metrics SDK and the OTLP exporter
 * given: a counter (app.requests: /a 8, /b 4), an up-down counter (app.inflight 5), an explicit
 * histogram (app.latency over LATENCIES, bounds 10/100/1000), a gauge (app.temperature 21.5) and an
 * exponential histogram (app.exp over EXP_VALUES); resource service.name = `service`.
 */
export async function recordSdkMetrics(exporter: PushMetricExporter, service: string): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [reader],
    views: [{ instrumentName: 'app.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('rrpipe-test', '1.0.0');
  const requests = meter.createCounter('app.requests');
  requests.add(3, { route: '/a' });
  requests.add(4, { route: '/b' });
  requests.add(5, { route: '/a' });
  const inflight = meter.createUpDownCounter('app.inflight');
  inflight.add(7);
  inflight.add(-2);
  const latency = meter.createHistogram('app.latency', { advice: { explicitBucketBoundaries: [10, 100, 1000] } });
  for (const v of LATENCIES) latency.record(v, { route: '/a' });
  meter.createGauge('app.temperature').record(21.5);
  const exp = meter.createHistogram('app.exp');
  for (const v of EXP_VALUES) exp.record(v);
  await reader.forceFlush();
  await provider.shutdown();
}

/**
 * Components of the shipped grafana chart config (configs/byoc/grafana.yaml) as YAML entries to
 * place under `section:` in a test's config, so tests run the chart's own statements, not a copy.
 */
export function grafanaChartComponents(section: 'processors' | 'connectors', ...names: string[]): string {
  const chart = parse(readFileSync(join(import.meta.dirname, '../../configs/byoc/grafana.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  const picked = Object.fromEntries(names.map((n) => {
    if (!(n in chart[section]!)) throw new Error(`configs/byoc/grafana.yaml has no ${section}.${n}`);
    return [n, chart[section]![n]];
  }));
  return stringify(picked).trimEnd().replace(/^/gm, '  ');
}
