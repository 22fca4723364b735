import * as grpc from '@grpc/grpc-js';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { HistogramPoint, MetricPoint } from '../../src/core/metric.js';
import { Service } from '../../src/service/service.js';
import { EXP_VALUES, freePort, LATENCIES, metricSinks, metricsTestRegistry, missing, recordSdkMetrics as record, startPrometheus, tmp, waitFor, type PrometheusServer } from '../support/index.js';

/** A service from a config whose `service:` block comes last; its own /metrics on a free port. */
function service(yaml: string, data: string): Promise<Service> {
  return metricsTestRegistry().then(async (registry) => {
    const text = `${yaml.replaceAll('DATA', data)}  telemetry: { metrics: { address: "127.0.0.1:${await freePort()}" } }\n`;
    const s = new Service({ files: ['c.yaml'], texts: { 'c.yaml': text }, registry, logger: silentLogger() });
    await s.start();
    return s;
  });
}

const of = (points: MetricPoint[], svc: string, name: string) => points.filter((p) => p.resource['service.name'] === svc && p.name === name);

describe('otlp receiver: metrics from the OTel JS SDK (gRPC, HTTP protobuf, HTTP JSON)', () => {
  let svc: Service;
  let g: number;
  let h: number;
  let m: number;
  beforeAll(async () => {
    [g, h, m] = [await freePort(), await freePort(), await freePort()];
    svc = await service(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${g} }
      http: { endpoint: 127.0.0.1:${h} }
  otlp/logsonly:
    protocols:
      http: { endpoint: 127.0.0.1:${m + 0} }
exporters:
  metriccapture: { label: otlp-in }
  capture: { label: otlp-in-logs }
service:
  data_dir: DATA
  pipelines:
    metrics: { receivers: [otlp], exporters: [metriccapture] }
    logs: { receivers: [otlp/logsonly], exporters: [capture] }
`, tmp('rrpipe-otlpm-'));
  }, 30_000);
  afterAll(async () => {
    await svc?.shutdown();
  });

  it.each([
    ['grpc', 'cumulative'],
    ['proto', 'delta'],
    ['json', 'delta'],
  ] as const)('%s exporter, %s temporality: sums, gauge, explicit and exponential histograms arrive as the SDK recorded them', async (transport, temporality) => {
    const pref = temporality === 'delta' ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE;
    const name = `svc-${transport}`;
    const exporter = transport === 'grpc'
      ? new GrpcMetricExporter({ url: `http://127.0.0.1:${g}`, temporalityPreference: pref, compression: 'gzip' as never })
      : transport === 'proto'
        ? new ProtoMetricExporter({ url: `http://127.0.0.1:${h}/v1/metrics`, temporalityPreference: pref })
        : new JsonMetricExporter({ url: `http://127.0.0.1:${h}/v1/metrics`, temporalityPreference: pref, compression: 'gzip' as never });
    await record(exporter, name);
    const all = await waitFor(() => {
      const pts = metricSinks.get('otlp-in') ?? [];
      return of(pts, name, 'app.exp').length > 0 ? pts : undefined;
    }, { what: `${name} points captured` });

    const requests = of(all, name, 'app.requests');
    expect(requests.every((p) => p.type === 'sum' && p.monotonic && p.temporality === temporality)).toBe(true);
    expect(new Map(requests.map((p) => [p.attributes.route, p.type === 'sum' ? p.value : NaN]))).toEqual(new Map([['/a', 8], ['/b', 4]]));
    expect(requests[0]!.scope).toEqual({ name: 'rrpipe-test', version: '1.0.0' });
    expect(requests[0]!.startNs).toBeGreaterThan(0n);
    expect(requests[0]!.timeNs).toBeGreaterThanOrEqual(requests[0]!.startNs);

    const [inflight] = of(all, name, 'app.inflight');
    // The SDK keeps up-down counters cumulative even under a delta preference.
    expect(inflight).toMatchObject({ type: 'sum', monotonic: false, temporality: 'cumulative', value: 5 });

    const [temp] = of(all, name, 'app.temperature');
    expect(temp).toMatchObject({ type: 'gauge', value: 21.5 });

    const [latency] = of(all, name, 'app.latency') as HistogramPoint[];
    expect(latency).toMatchObject({
      type: 'histogram', temporality, count: 5, sum: LATENCIES.reduce((a, b) => a + b), bounds: [10, 100, 1000], counts: [1, 2, 1, 1], min: 5, max: 5000,
      attributes: { route: '/a' },
    });

    const [exp] = of(all, name, 'app.exp') as HistogramPoint[];
    expect(exp).toMatchObject({ type: 'histogram', temporality, count: EXP_VALUES.length, sum: EXP_VALUES.reduce((a, b) => a + b), min: 2, max: 100 });
    // Every value lands in the explicit bucket (bounds[i-1], bounds[i]] the exponential bucket became.
    const want = exp!.counts.map(() => 0);
    for (const v of EXP_VALUES) want[exp!.bounds.findIndex((b) => v <= b) < 0 ? exp!.bounds.length : exp!.bounds.findIndex((b) => v <= b)]! += 1;
    expect(exp!.counts).toEqual(want);
    for (let i = 1; i < exp!.bounds.length; i++) expect(exp!.bounds[i]!).toBeGreaterThan(exp!.bounds[i - 1]!);
  }, 30_000);

  it('refuses what cannot be metrics: bad protobuf and JSON (400, INVALID_ARGUMENT), summaries and unspecified temporality (partial success), metrics at a logs-only receiver (404); all counted', async () => {
    const post = (port: number, body: Buffer | string, type: string, extra: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': type, ...extra }, body });
    const garbage = await post(h, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'application/x-protobuf');
    expect(garbage.status).toBe(400);
    const notMetrics = await post(h, JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: {}, sum: {} }] }] }] }), 'application/json');
    expect(notMetrics.status).toBe(400);
    expect(((await notMetrics.json()) as { message: string }).message).toMatch(/exactly one of/);

    const doc = {
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc-bad' } }] },
        scopeMetrics: [{
          metrics: [
            { name: 'ok.gauge', gauge: { dataPoints: [{ timeUnixNano: '1700000000000000000', asInt: '42' }] } },
            { name: 'a.summary', summary: { dataPoints: [{ count: '1', sum: 2 }] } },
            { name: 'no.temporality', sum: { isMonotonic: true, dataPoints: [{ asDouble: 1 }, { asDouble: 2 }] } },
            { name: 'bad.buckets', histogram: { aggregationTemporality: 2, dataPoints: [{ count: '2', bucketCounts: ['1', '1'], explicitBounds: [1, 2] }] } },
          ],
        }],
      }],
    };
    const partial = await post(h, gzipSync(JSON.stringify(doc)), 'application/json', { 'content-encoding': 'gzip' });
    expect(partial.status).toBe(200);
    const body = (await partial.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(body.partialSuccess.rejectedDataPoints).toBe('4');
    expect(body.partialSuccess.errorMessage).toMatch(/summary metrics are not supported/);
    expect(body.partialSuccess.errorMessage).toMatch(/temporality is unspecified/);
    expect(body.partialSuccess.errorMessage).toMatch(/2 bucket counts for 2 bounds/);
    const got = await waitFor(() => of(metricSinks.get('otlp-in') ?? [], 'svc-bad', 'ok.gauge')[0]);
    expect(got).toMatchObject({ type: 'gauge', value: 42, timeNs: 1700000000000000000n });

    const client = new grpc.Client(`127.0.0.1:${g}`, grpc.credentials.createInsecure());
    const code = await new Promise<number>((resolve) => {
      client.makeUnaryRequest('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0x05, 0x01]), (err) => resolve(err?.code ?? 0));
    });
    client.close();
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);

    const logsOnly = await post(m, '{}', 'application/json');
    expect(logsOnly.status).toBe(404);
    expect(await logsOnly.text()).toMatch(/OTLP logs at \/v1\/logs/);

    const own = await svc.telemetry.text();
    expect(own).toMatch(/rrpipe_otlp_metric_points_rejected_total\{[^}]*component="otlp"[^}]*\} 4/);
    expect(own).toMatch(/rrpipe_otlp_requests_refused_total\{[^}]*component="otlp"[^}]*transport="http",reason="malformed"[^}]*\} 2/);
    expect(own).toMatch(/rrpipe_otlp_requests_refused_total\{[^}]*component="otlp"[^}]*transport="grpc",reason="malformed"[^}]*\} 1/);
    expect(own).toMatch(/rrpipe_records_dropped_total\{[^}]*component="otlp"[^}]*reason="unsupported data point"[^}]*\} 4/);
  }, 30_000);
});

describe.skipIf(missing('prometheus', 'apt-get install prometheus; .ci/setup.d/metrics.sh'))('otlp / otlphttp exporters: an rrpipe → rrpipe relay of SDK metrics lands in a real Prometheus', () => {
  let prom: PrometheusServer;
  const services: Service[] = [];
  beforeAll(async () => {
    prom = await startPrometheus();
  }, 60_000);
  afterAll(async () => {
    for (const s of services) await s.shutdown().catch(() => undefined);
    await prom?.stop();
  });

  it.each([
    ['otlp', (b: { g: number; h: number }) => `otlp: { endpoint: "http://127.0.0.1:${b.g}" }`],
    ['otlphttp', (b: { g: number; h: number }) => `otlphttp: { metrics_endpoint: "http://127.0.0.1:${b.h}/v1/metrics", encoding: json }`],
  ] as const)('SDK → rrpipe (%s exporter) → rrpipe (otlp receiver, prometheusremotewrite) → Prometheus: counters and histogram buckets equal what was recorded', async (type, exporterYaml) => {
    const [ag, bg, bh] = [await freePort(), await freePort(), await freePort()];
    services.push(await service(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${bg} }, http: { endpoint: 127.0.0.1:${bh} } } }
exporters:
  prometheusremotewrite: { endpoint: "${prom.url}/api/v1/write" }
service:
  data_dir: DATA
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheusremotewrite] }
`, tmp('rrpipe-relay-b-')));
    services.push(await service(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${ag} } } }
exporters:
  ${exporterYaml({ g: bg, h: bh })}
service:
  data_dir: DATA
  pipelines:
    metrics: { receivers: [otlp], exporters: [${type}] }
`, tmp('rrpipe-relay-a-')));
    const job = `relay-${type}`;
    await record(new GrpcMetricExporter({ url: `http://127.0.0.1:${ag}`, temporalityPreference: AggregationTemporalityPreference.CUMULATIVE }), job);
    const byLabel = async (q: string, label: string) => new Map((await prom.query(q)).map((v) => [v.metric[label]!, Number(v.value[1])]));
    await waitFor(async () => (await prom.query(`app_requests_total{job="${job}"}`)).length === 2, { what: `${job} counters in Prometheus`, timeoutMs: 30_000 });
    expect(await byLabel(`app_requests_total{job="${job}"}`, 'route')).toEqual(new Map([['/a', 8], ['/b', 4]]));
    const buckets = await byLabel(`app_latency_bucket{job="${job}"}`, 'le');
    expect(buckets).toEqual(new Map([['10', 1], ['100', 3], ['1000', 4], ['+Inf', 5]]));
    expect(Number((await prom.query(`app_latency_sum{job="${job}"}`))[0]!.value[1])).toBe(LATENCIES.reduce((a, b) => a + b));
    expect(Number((await prom.query(`app_temperature{job="${job}"}`))[0]!.value[1])).toBe(21.5);
    expect(Number((await prom.query(`app_exp_count{job="${job}"}`))[0]!.value[1])).toBe(EXP_VALUES.length);
  }, 60_000);
});
