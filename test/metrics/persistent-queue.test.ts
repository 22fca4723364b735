import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { MetricPoint } from '../../src/core/metric.js';
import { Service } from '../../src/service/service.js';
import { freePort, LATENCIES, metricSinks, metricsTestRegistry, missing, recordSdkMetrics, RrpipeProcess, startPrometheus, tmp, waitFor, type PrometheusServer } from '../support/index.js';

/** A counter's value in rrpipe's own /metrics, summed over the series whose labels include `match`. */
async function own(port: number, name: string, match: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(match)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** rrpipe: the otlp HTTP receiver into one metrics exporter (given as YAML) with a file_storage queue. */
function queuedConfig(dir: string, h: number, exporter: string, exporterYaml: string, telemetry: number): string {
  return `
extensions:
  file_storage/q: { directory: ${dir}/queue }
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${h} } } }
exporters:
  ${exporter}:
${exporterYaml}
    retry_on_failure: { initial_interval: 200ms, max_interval: 500ms, max_elapsed_time: 0 }
    sending_queue: { storage: file_storage/q }
service:
  extensions: [file_storage/q]
  data_dir: ${dir}/state
  telemetry: { metrics: { address: "127.0.0.1:${telemetry}" } }
  pipelines:
    metrics: { receivers: [otlp], exporters: [${exporter}] }
`;
}

/**
 * Runs rrpipe on that config while its destination is down, records the SDK metrics into it (the
 * SDK's export resolves once rrpipe answered 200, i.e. once the points are on disk), waits for a
 * failed attempt and kills it with SIGKILL. Returns how many batches were queued.
 */
async function fillThenKill(dir: string, h: number, exporter: string, exporterYaml: string, service: string, procs: RrpipeProcess[]): Promise<number> {
  const t = await freePort();
  writeFileSync(join(dir, 'c.yaml'), queuedConfig(dir, h, exporter, exporterYaml, t));
  const p = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
  procs.push(p);
  await p.waitLog(/otlp: HTTP receiver listening/);
  await recordSdkMetrics(new ProtoMetricExporter({ url: `http://127.0.0.1:${h}/v1/metrics` }), service);
  const queued = await waitFor(async () => (await own(t, 'rrpipe_queue_size', `component="${exporter}"`)) || undefined, { what: 'points queued' });
  await waitFor(async () => (await own(t, 'rrpipe_records_failed_total', `component="${exporter}"`)) > 0, { what: 'a failed attempt while the destination is down' });
  expect(await own(t, 'rrpipe_records_sent_total', `component="${exporter}"`)).toBe(0);
  p.signal('SIGKILL');
  await p.exited;
  return queued;
}

describe.skipIf(missing('prometheus', 'apt-get install prometheus; .ci/setup.d/metrics.sh'))('persistent sending queue for metrics (file_storage)', () => {
  let prom: PrometheusServer | undefined;
  const procs: RrpipeProcess[] = [];
  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await prom?.stop();
  });

  it('prometheusremotewrite: points queued while Prometheus is unreachable survive kill -9 and arrive once after the restart', async () => {
    const dir = tmp('rrpipe-pq-metrics-');
    const [h, dead] = [await freePort(), await freePort()];
    // One consumer: Prometheus refuses a sample older than the newest of its series, so batches must go in order.
    const prw = (url: string) => `    endpoint: ${url}\n    remote_write_queue: { num_consumers: 1 }`;
    const queued = await fillThenKill(dir, h, 'prometheusremotewrite', prw(`http://127.0.0.1:${dead}/api/v1/write`), 'pq-metrics', procs);

    prom = await startPrometheus();
    const t2 = await freePort();
    writeFileSync(join(dir, 'c.yaml'), queuedConfig(dir, h, 'prometheusremotewrite', prw(`${prom.url}/api/v1/write`), t2));
    const second = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
    procs.push(second);
    const p = prom;
    await waitFor(async () => (await p.query('app_requests_total{job="pq-metrics"}')).length === 2, { what: 'the recovered counters in Prometheus', timeoutMs: 60_000 });
    const routes = new Map((await p.query('app_requests_total{job="pq-metrics"}')).map((v) => [v.metric.route, Number(v.value[1])]));
    expect(routes).toEqual(new Map([['/a', 8], ['/b', 4]]));
    const buckets = new Map((await p.query('app_latency_bucket{job="pq-metrics"}')).map((v) => [v.metric.le, Number(v.value[1])]));
    expect(buckets).toEqual(new Map([['10', 1], ['100', 3], ['1000', 4], ['+Inf', 5]]));
    expect(Number((await p.query('app_latency_sum{job="pq-metrics"}'))[0]!.value[1])).toBe(LATENCIES.reduce((a, b) => a + b));

    // Once: what the restart found on disk is what it sent, and the queue is empty afterwards.
    const recovered = await waitFor(async () => (await own(t2, 'rrpipe_records_recovered_total', 'component="prometheusremotewrite"')) || undefined, { what: 'recovered count' });
    await waitFor(async () => (await own(t2, 'rrpipe_records_sent_total', 'component="prometheusremotewrite"')) >= recovered, { what: 'every recovered point sent' });
    await waitFor(async () => (await own(t2, 'rrpipe_queue_size', 'component="prometheusremotewrite"')) === 0, { what: 'queue empty' });
    expect(await own(t2, 'rrpipe_records_sent_total', 'component="prometheusremotewrite"')).toBe(recovered);
    expect(await own(t2, 'rrpipe_records_dead_lettered_total', 'component="prometheusremotewrite"')).toBe(0);
    expect(recovered).toBeGreaterThanOrEqual(6);
    expect(queued).toBeGreaterThan(0);
    second.signal('SIGTERM');
    await second.exited;
  }, 120_000);
});

describe('persistent sending queue for metrics (file_storage): otlphttp', () => {
  const procs: RrpipeProcess[] = [];
  let next: Service | undefined;
  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await next?.shutdown();
  });

  it('otlphttp: points queued while the next rrpipe is down survive kill -9 and arrive there once after the restart', async () => {
    const dir = tmp('rrpipe-pq-otlphttp-');
    const [h, downstream, t2] = [await freePort(), await freePort(), await freePort()];
    const exporterYaml = `    metrics_endpoint: http://127.0.0.1:${downstream}/v1/metrics`;
    await fillThenKill(dir, h, 'otlphttp', exporterYaml, 'pq-otlphttp', procs);

    // The next rrpipe comes up where the queue was aimed; the first one restarts with the same config.
    next = new Service({
      files: ['n.yaml'],
      texts: { 'n.yaml': `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${downstream} } } }
exporters:
  metriccapture: { label: pq-next }
service:
  data_dir: ${dir}/next
  telemetry: { metrics: { address: "127.0.0.1:${await freePort()}" } }
  pipelines:
    metrics: { receivers: [otlp], exporters: [metriccapture] }
` },
      registry: await metricsTestRegistry(),
      logger: silentLogger(),
    });
    await next.start();
    writeFileSync(join(dir, 'c.yaml'), queuedConfig(dir, h, 'otlphttp', exporterYaml, t2));
    const second = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
    procs.push(second);
    const recovered = await waitFor(async () => (await own(t2, 'rrpipe_records_recovered_total', 'component="otlphttp"')) || undefined, { what: 'recovered count' });
    await waitFor(async () => (await own(t2, 'rrpipe_records_sent_total', 'component="otlphttp"')) >= recovered, { what: 'every recovered point sent' });
    await waitFor(async () => (await own(t2, 'rrpipe_queue_size', 'component="otlphttp"')) === 0, { what: 'queue empty' });
    const got = (metricSinks.get('pq-next') ?? []).filter((p) => p.resource['service.name'] === 'pq-otlphttp');
    // Once: each point (metric, attributes, time) arrived a single time, and all that was recovered arrived.
    const key = (p: MetricPoint) => `${p.name}|${JSON.stringify(p.attributes)}|${p.timeNs}`;
    expect(new Set(got.map(key)).size).toBe(got.length);
    expect(got.length).toBe(recovered);
    const requests = got.filter((p) => p.name === 'app.requests' && p.type === 'sum');
    expect(new Set(requests.map((p) => `${p.attributes.route}=${p.type === 'sum' ? p.value : ''}`))).toEqual(new Set(['/a=8', '/b=4']));
    const latency = got.find((p) => p.name === 'app.latency');
    expect(latency).toMatchObject({ type: 'histogram', counts: [1, 2, 1, 1], sum: LATENCIES.reduce((a, b) => a + b) });
    second.signal('SIGTERM');
    await second.exited;
  }, 120_000);
});
