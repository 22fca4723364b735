import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { Service } from '../../src/service/service.js';
import { expectedTraffic, freePort, missing, startLokiFake, startPrometheus, tmp, trafficSamples, waitFor, type LokiFake, type PrometheusServer } from '../support/index.js';

async function send(url: string, rrs: RRPair[]): Promise<void> {
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ cluster: 'test-cluster' }), processors: [new BatchLogRecordProcessor(new GrpcLogExporter({ url }))] });
  const logger = provider.getLogger('speedscale-forwarder');
  for (const rr of rrs) logger.emit({ body: structuredClone(rr) as never, attributes: { service: String(rr.service), namespace: String(rr.namespace) } });
  await provider.shutdown();
}

describe.skipIf(missing('prometheus', 'apt-get install prometheus; .ci/setup.d/metrics.sh'))('configs/byoc/grafana.yaml (the whole chart collector) against a real Prometheus and the Loki fake', () => {
  let prom: PrometheusServer;
  let loki: LokiFake;
  let service: Service;
  beforeAll(async () => {
    prom = await startPrometheus();
    loki = await startLokiFake();
  }, 60_000);
  afterAll(async () => {
    await service?.shutdown().catch(() => undefined);
    await prom?.stop();
    await loki?.stop();
  });

  it('runs unchanged but for addresses: speedscale_calls and speedscale_request_duration_ms_sum in Prometheus equal the counts and sums of the HTTP RRPairs sent; the three scrape jobs land in Prometheus with their labels, an unreachable target counted, not fatal; the logs pipeline still feeds Loki', async () => {
    const [g, h, hc, m, dead] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const text = readFileSync(join(import.meta.dirname, '../../configs/byoc/grafana.yaml'), 'utf8')
      .replace('0.0.0.0:4317', `127.0.0.1:${g}`)
      .replace('0.0.0.0:4318', `127.0.0.1:${h}`)
      .replace('0.0.0.0:13133', `127.0.0.1:${hc}`)
      .replaceAll('scrape_interval: 30s', 'scrape_interval: 1s');
    const data = tmp('rrpipe-grafana-');
    service = new Service({
      files: ['grafana.yaml'],
      texts: { 'grafana.yaml': `${text}\n  data_dir: ${data}/state\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n` },
      registry: await builtinRegistry(),
      // Scrape targets: rrpipe's own /metrics stands in for the intake API, Prometheus for nettap, a closed port for the forwarder.
      env: {
        PROMETHEUS_REMOTE_WRITE: `${prom.url}/api/v1/write`,
        LOKI_OTLP_ENDPOINT: `${loki.url}/otlp`,
        INTAKE_API_METRICS_TARGET: `127.0.0.1:${m}`,
        FORWARDER_METRICS_TARGET: `127.0.0.1:${dead}`,
        NETTAP_METRICS_TARGET: `127.0.0.1:${prom.port}`,
      },
      logger: silentLogger(),
    });
    await service.start();
    const rrs = trafficSamples();
    await send(`http://127.0.0.1:${g}`, rrs);
    const want = expectedTraffic(rrs);
    const total = [...want.calls.values()].reduce((a, b) => a + b, 0);
    const scalar = async (q: string) => Number((await prom.query(q))[0]?.value[1] ?? NaN);
    await waitFor(async () => (await scalar('sum(speedscale_calls_total)')) === total, { what: `${total} calls in Prometheus`, timeoutMs: 60_000 });
    const calls = await prom.query('sum by (svc, status) (speedscale_calls_total)');
    expect(new Map(calls.map((v) => [`${v.metric.svc}|${v.metric.status}`, Number(v.value[1])]))).toEqual(want.calls);
    const wantSum = [...want.durationSum.values()].reduce((a, b) => a + b, 0);
    await waitFor(async () => Math.abs((await scalar('sum(speedscale_request_duration_ms_sum_total)')) - wantSum) < 1e-6, { what: 'duration sums in Prometheus', timeoutMs: 60_000 });
    const sums = await prom.query('sum by (svc) (speedscale_request_duration_ms_sum_total)');
    expect(sums).toHaveLength(want.durationSum.size);
    for (const v of sums) expect(Number(v.value[1])).toBeCloseTo(want.durationSum.get(v.metric.svc!)!, 6);
    // The prometheus receiver scraped rrpipe itself (the "intake-api" job), Prometheus (the "nettap" job) and the dead target.
    await waitFor(async () => (await prom.query('up{job="agent-factory-intake-api", service="agent-factory", component="intake-api"} == 1')).length === 1, { what: 'the intake-api target scraped', timeoutMs: 30_000 });
    await waitFor(async () => (await prom.query('up{job="speedscale-nettap"} == 1')).length === 1, { what: 'the live target scraped', timeoutMs: 30_000 });
    await waitFor(async () => (await prom.query('up{job="speedscale-forwarder"} == 0')).length === 1, { what: 'the dead target reported down', timeoutMs: 30_000 });
    const own = await fetch(`http://127.0.0.1:${m}/metrics`).then((r) => r.text());
    expect(own).toMatch(/rrpipe_prometheus_scrape_failures_total\{[^}]*job="speedscale-forwarder"[^}]*\} [1-9]/);
    const scraped = await prom.query('prometheus_build_info{job="speedscale-nettap", component="nettap-ingest", service="speedscale"}');
    expect(scraped).toHaveLength(1);
    // Every RRPair, HTTP or not, went to Loki's OTLP endpoint by the logs pipeline.
    await waitFor(() => loki.entries().length === rrs.length, { what: `${rrs.length} entries in Loki`, timeoutMs: 30_000 });
    expect(loki.pushes.every((p) => p.path === '/otlp/v1/logs' && p.status === 204)).toBe(true);
  }, 120_000);
});
