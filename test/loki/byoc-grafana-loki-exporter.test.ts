import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { Service } from '../../src/service/service.js';
import { expectedRRPair } from '../otlp/support.js';
import { allSamples, freePort, requireBuild, runCli, startLokiFake, tmp, waitFor, type LokiFake } from '../support/index.js';

const CONFIG = join(import.meta.dirname, '../../configs/byoc/grafana.yaml');
const SAMPLES = allSamples();
type Ids = { cluster: string; service: string; namespace: string };

/** The time each RRPair was sent with, by uuid. */
const sentAt = new Map<string, bigint>();

/** The forwarder's side: each LogRecord stamped with a nanosecond time, as Go's time.Now() gives it. */
async function send(exporter: LogRecordExporter, rrs: RRPair[], ids: Ids): Promise<void> {
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ cluster: ids.cluster }), processors: [new BatchLogRecordProcessor(exporter)] });
  const logger = provider.getLogger('speedscale-forwarder');
  const base = BigInt(Date.now()) * 1_000_000n;
  rrs.forEach((rr, i) => {
    const t = base + BigInt(i) * 1_013n + 7n;
    sentAt.set(rr.uuid as string, t);
    logger.emit({ timestamp: [Number(t / 1_000_000_000n), Number(t % 1_000_000_000n)], body: structuredClone(rr) as never, attributes: { service: ids.service, namespace: ids.namespace } });
  });
  await provider.shutdown();
}

/**
 * What the chart's scripts/loki-gather.py does, written again here from its description: one
 * query_range per page (limit 25, direction backward, [start, cursor)), the answer's lines parsed
 * as JSON, `body` kept when it is an object, lines sorted newest first, the cursor moved to the
 * oldest line, records deduplicated by uuid, then cluster and namespace filled from the stream
 * labels where the body says "undefined".
 */
async function gather(lokiUrl: string, logql: string, startNs: bigint, endNs: bigint): Promise<{ labels: Record<string, string>; body: Record<string, unknown> }[]> {
  const out: { labels: Record<string, string>; body: Record<string, unknown> }[] = [];
  const seen = new Set<string>();
  let cursor = endNs;
  while (cursor > startNs) {
    const qs = new URLSearchParams({ query: logql, start: String(startNs), end: String(cursor), limit: '25', direction: 'backward' });
    const res = await fetch(`${lokiUrl}/loki/api/v1/query_range?${qs}`);
    expect(res.status).toBe(200);
    const payload = (await res.json()) as { status: string; data: { result: { stream: Record<string, string>; values: [string, string][] }[] } };
    expect(payload.status).toBe('success');
    const page: { ts: bigint; labels: Record<string, string>; body: Record<string, unknown> }[] = [];
    for (const s of payload.data.result) {
      for (const [ts, line] of s.values) {
        const body = (JSON.parse(line) as { body?: unknown }).body;
        if (body && typeof body === 'object' && !Array.isArray(body)) page.push({ ts: BigInt(ts), labels: s.stream, body: body as Record<string, unknown> });
      }
    }
    page.sort((a, b) => (a.ts === b.ts ? 0 : a.ts > b.ts ? -1 : 1));
    if (!page.length) break;
    let added = 0;
    for (const p of page) {
      const id = String(p.body.uuid);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ labels: p.labels, body: p.body });
      added++;
    }
    cursor = page[page.length - 1]!.ts >= cursor ? cursor - 1n : page[page.length - 1]!.ts;
    if (!added) cursor -= 1n;
  }
  for (const r of out) for (const f of ['cluster', 'namespace']) if ([undefined, null, '', 'undefined'].includes(r.body[f] as string) && r.labels[f]) r.body[f] = r.labels[f];
  return out;
}

describe('configs/byoc/grafana.yaml (the grafana chart\'s collector; its logs pipeline into Loki)', async () => {
  const registry = await builtinRegistry();

  it('validates as the chart renders it: hint processors, loki exporter with default_labels_enabled, the three pipelines', async () => {
    const cfg = await loadConfig([CONFIG], { registry, env: {} });
    expect(cfg.components.exporters.get('loki')!.config).toMatchObject({
      endpoint: 'http://loki.byoc-grafana.svc.cluster.local:3100/loki/api/v1/push',
      default_labels_enabled: { exporter: true, job: true },
      encoding: 'protobuf',
    });
    expect(cfg.pipelines.get('logs')).toMatchObject({ receivers: ['otlp'], processors: ['resource/loki-hints', 'attributes/loki-hints', 'batch'], exporters: ['loki', 'debug'] });
    expect(cfg.pipelines.get('logs/metrics')).toMatchObject({ receivers: ['otlp'], processors: ['transform/rrpair-attrs', 'filter/http-only', 'batch'], exporters: ['count', 'sum'] });
    expect(cfg.pipelines.get('metrics')).toMatchObject({ receivers: ['prometheus', 'count', 'sum'], processors: ['deltatocumulative/traffic', 'batch'], exporters: ['prometheusremotewrite', 'debug'] });
    const scrape = (cfg.components.receivers.get('prometheus')!.config as { config: { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] } }).config.scrape_configs;
    expect(scrape.map((j) => [j.job_name, j.static_configs[0]!.targets])).toEqual([
      ['agent-factory-intake-api', ['agent-factory-intake-api.agent-factory.svc.cluster.local:8080']],
      ['speedscale-forwarder', ['speedscale-forwarder-metrics.speedscale.svc.cluster.local:4145']],
      ['speedscale-nettap', ['speedscale-nettap-metrics.speedscale.svc.cluster.local:4145']],
    ]);
    expect(cfg.components.exporters.get('prometheusremotewrite')!.config).toMatchObject({ endpoint: 'http://prometheus.byoc-grafana.svc.cluster.local:9090/api/v1/write' });
    expect(cfg.serviceExtensions).toEqual(['health_check']);
  });

  describe('runs end to end into the Loki fake; loki-gather\'s query reads back every RRPair, field for field', () => {
    let loki: LokiFake;
    let data: string;
    const half = Math.ceil(SAMPLES.length / 2);
    const idsOf = (i: number): Ids => (i < half ? { cluster: 'east', service: 'billing', namespace: 'prod' } : { cluster: 'east', service: 'orders', namespace: 'shop' });
    let sentFrom = 0n;
    let sentTo = 0n;

    beforeAll(async () => {
      loki = await startLokiFake();
      const [g, h, hc, m, closed] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
      data = tmp('rrpipe-byoc-grafana-');
      const text = readFileSync(CONFIG, 'utf8')
        .replace('0.0.0.0:4317', `127.0.0.1:${g}`)
        .replace('0.0.0.0:4318', `127.0.0.1:${h}`)
        .replace('0.0.0.0:13133', `127.0.0.1:${hc}`);
      const service = new Service({
        files: ['grafana.yaml'],
        // The metrics side (test/metrics/grafana-chart.test.ts runs it against Prometheus) points at a
        // closed port here; a short grace period bounds its retries at shutdown.
        texts: { 'grafana.yaml': `${text}\n  data_dir: ${data}/state\n  grace_period: 2s\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n` },
        registry,
        env: {
          LOKI_ENDPOINT: `${loki.url}/loki/api/v1/push`,
          PROMETHEUS_REMOTE_WRITE: `http://127.0.0.1:${closed}/api/v1/write`,
          INTAKE_API_METRICS_TARGET: `127.0.0.1:${closed}`,
          FORWARDER_METRICS_TARGET: `127.0.0.1:${closed}`,
          NETTAP_METRICS_TARGET: `127.0.0.1:${closed}`,
        },
        logger: silentLogger(),
      });
      sentFrom = BigInt(Date.now()) * 1_000_000n;
      await service.start();
      try {
        await send(new GrpcLogExporter({ url: `http://127.0.0.1:${g}` }), SAMPLES.slice(0, half), idsOf(0));
        await send(new ProtoLogExporter({ url: `http://127.0.0.1:${h}/v1/logs` }), SAMPLES.slice(half), idsOf(half));
        await waitFor(() => loki.entries().length === SAMPLES.length, { what: `${SAMPLES.length} entries in Loki`, timeoutMs: 30_000 });
      } finally {
        await service.shutdown();
      }
      sentTo = BigInt(Date.now()) * 1_000_000n;
    });
    afterAll(async () => {
      await loki?.stop();
      if (data) rmSync(data, { recursive: true, force: true });
    });

    it('every push was protobuf + snappy and accepted; streams carry the chart\'s labels', () => {
      expect(loki.pushes.length).toBeGreaterThan(0);
      expect(loki.pushes.every((p) => p.contentType === 'application/x-protobuf' && p.status === 204)).toBe(true);
      const labelSets = new Set(loki.entries().map((e) => JSON.stringify(e.labels)));
      expect([...labelSets].map((s) => JSON.parse(s))).toEqual(expect.arrayContaining([
        { cluster: 'east', exporter: 'OTLP', namespace: 'prod', service: 'billing' },
        { cluster: 'east', exporter: 'OTLP', namespace: 'shop', service: 'orders' },
      ]));
      expect(labelSets.size).toBe(2);
      // The hints and the promoted attributes are not in the lines.
      for (const e of loki.entries()) expect(Object.keys(JSON.parse(e.line))).toEqual(['body']);
      // Each entry carries its log record's time (OTel's rule), to the nanosecond.
      for (const e of loki.entries()) expect(e.tsNs).toBe(sentAt.get((JSON.parse(e.line) as { body: { uuid: string } }).body.uuid));
      for (const e of loki.entries()) expect(e.tsNs >= sentFrom && e.tsNs <= sentTo).toBe(true);
    });

    it('loki-gather\'s default query {service=~".+"} | json over the last 15 minutes gives back the 189 RRPairs', async () => {
      const end = BigInt(Date.now()) * 1_000_000n;
      const got = await gather(loki.url, '{service=~".+"} | json', end - 15n * 60n * 1_000_000_000n, end);
      expect(got).toHaveLength(SAMPLES.length);
      const byUuid = new Map(got.map((g) => [g.body.uuid, g]));
      SAMPLES.forEach((rr, i) => {
        const g = byUuid.get(rr.uuid)!;
        expect(g.body).toEqual(expectedRRPair(rr, idsOf(i)));
        expect(g.labels).toMatchObject({ ...idsOf(i), exporter: 'OTLP', body_uuid: rr.uuid });
      });
      // The gather script's filter flags: a stream label and a body field.
      const filtered = await gather(loki.url, '{service="orders"} | json | body_status=~"2.."', end - 15n * 60n * 1_000_000_000n, end);
      const expected = SAMPLES.slice(half).filter((rr) => /^2..$/.test(String(rr.status)));
      expect(filtered.map((f) => f.body.uuid).sort()).toEqual(expected.map((rr) => rr.uuid).sort());
    });

    it('rrpipe snapshot --from loki://… writes the same RRPairs (raw_jsonl, ordered by ts)', async () => {
      requireBuild();
      const out = join(data, 'snap.jsonl');
      const from = `loki://${loki.url.replace('http://', '')}?query=${encodeURIComponent('{service=~".+"} | json')}`;
      const r = await runCli(['snapshot', '--from', from, '--start', '-15m', '--out', out]);
      expect(r.stderr).toMatch(/189 records from Loki/);
      expect(r.code).toBe(0);
      const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RRPair);
      expect(lines).toHaveLength(SAMPLES.length);
      const byUuid = new Map(lines.map((l) => [l.uuid, l]));
      SAMPLES.forEach((rr, i) => expect(byUuid.get(rr.uuid)).toEqual(expectedRRPair(rr, idsOf(i))));
      const ts = lines.map((l) => l.ts!);
      expect(ts).toEqual([...ts].sort());
      // Filters: --service becomes a stream matcher of the default query; others apply to the records.
      const out2 = join(data, 'snap2.jsonl');
      const r2 = await runCli(['snapshot', '--from', `loki://${loki.url.replace('http://', '')}`, '--start', '-15m', '--out', out2, '--service', 'billing', '--command', 'GET']);
      expect(r2.code).toBe(0);
      const billingGets = SAMPLES.slice(0, half).filter((rr) => rr.command === 'GET');
      expect(readFileSync(out2, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as RRPair).uuid).sort()).toEqual(billingGets.map((rr) => rr.uuid).sort());
      expect(loki.queries.at(-1)!.query).toBe('{service="billing"} | json');
    });

    it('rrpipe snapshot reports Loki\'s refusal of a bad query and exits 1', async () => {
      const r = await runCli(['snapshot', '--from', `loki://${loki.url.replace('http://', '')}?query=${encodeURIComponent('{service=~".*"}')}`, '--start', '-15m', '--out', join(data, 'x.jsonl')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Loki returned HTTP 400: parse error : queries require at least one regexp or equality matcher/);
    });
  });
});
