import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { expect } from 'vitest';
import type { Component, Consumer } from '../../src/core/component.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { factory, type LokiExporterConfig } from '../../src/exporters/loki/index.js';
import { builtinRegistry } from '../../src/components.js';
import type { ResolvedConfig } from '../../src/config/load.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { Service } from '../../src/service/service.js';
import type { LokiFake } from '../fakes/loki/server.js';
import { freePort, readDeadLetters, testHost, tmp, waitFor } from '../support/index.js';

export interface BuiltLoki {
  exporter: Component & Consumer;
  dir: string;
  telemetry: Telemetry;
  deadLetters(): Promise<{ reason: string; rrpair?: { uuid?: string } }[]>;
  stop(): Promise<void>;
}

/** A loki exporter with its config through the schema (defaults filled), started on a test Host. */
export async function buildLoki(raw: Record<string, unknown>): Promise<BuiltLoki> {
  const config = structuredClone(raw);
  const problems = validateAgainst(factory.schema, config);
  const extra = factory.validate?.(config as LokiExporterConfig) ?? [];
  if (problems.length || extra.length) throw new Error([...problems.map((p) => `${p.path.join('.')}: ${p.message}`), ...extra.map((p) => p.message)].join('; '));
  const dir = tmp('rrpipe-loki-');
  const telemetry = new Telemetry({ processMetrics: false });
  const exporter = await factory.create({ id: 'loki', kind: 'exporter', config: config as LokiExporterConfig, logger: silentLogger(), metrics: telemetry.forComponent('loki', 'exporter'), configDir: dir });
  await exporter.start(testHost(dir));
  const read = () => readDeadLetters<{ reason: string; rrpair?: { uuid?: string } }>(dir);
  return {
    exporter, dir, telemetry,
    async deadLetters() {
      // The dead-letter file is written through a stream: wait until what was counted is on disk.
      await waitFor(async () => read().length > 0, { timeoutMs: 5_000 }).catch(() => undefined);
      return read();
    },
    async stop() {
      await exporter.shutdown(AbortSignal.timeout(10_000));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Exporter settings for tests: no queue (consume returns once delivered or dead-lettered), fast retries. */
export const FAST = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '3s' },
} as const;

export type Ids = { cluster: string; service: string; namespace: string };

/** Identity of sample i: the first `half` from billing in prod, the rest from orders in shop, one cluster. */
export const forwarderIds = (half: number) => (i: number): Ids => (i < half ? { cluster: 'east', service: 'billing', namespace: 'prod' } : { cluster: 'east', service: 'orders', namespace: 'shop' });

/** What both revisions of the grafana chart config share: the metrics side, as the chart renders it. */
export function expectChartMetricsSide(cfg: ResolvedConfig): void {
    expect(cfg.pipelines.get('logs/metrics')).toMatchObject({ receivers: ['otlp'], processors: ['transform/rrpair-attrs', 'filter/http-only', 'batch'], exporters: ['count', 'sum'] });
    expect(cfg.components.processors.get('transform/rrpair-attrs')!.config.error_mode).toBe('propagate');
    expect(cfg.components.processors.get('filter/http-only')!.config.error_mode).toBe('ignore');
    expect(cfg.pipelines.get('metrics')).toMatchObject({ receivers: ['prometheus', 'count', 'sum'], processors: ['deltatocumulative/traffic', 'batch'], exporters: ['prometheusremotewrite', 'debug'] });
    const scrape = (cfg.components.receivers.get('prometheus')!.config as { config: { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] } }).config.scrape_configs;
    expect(scrape.map((j) => [j.job_name, j.static_configs[0]!.targets])).toEqual([
      ['agent-factory-intake-api', ['agent-factory-intake-api.agent-factory.svc.cluster.local:8080']],
      ['speedscale-forwarder', ['speedscale-forwarder-metrics.speedscale.svc.cluster.local:4145']],
      ['speedscale-nettap', ['speedscale-nettap-metrics.speedscale.svc.cluster.local:4145']],
    ]);
    expect(cfg.components.exporters.get('prometheusremotewrite')!.config).toMatchObject({ endpoint: 'http://prometheus.byoc-grafana.svc.cluster.local:9090/api/v1/write' });
    expect(cfg.serviceExtensions).toEqual(['health_check']);
}

/** The time each RRPair was sent with, by uuid. */
export const sentAt = new Map<string, bigint>();

/**
 * The forwarder's side: cluster on the resource, service and namespace as log attributes, each
 * LogRecord stamped with a nanosecond time, as Go's time.Now() gives it.
 */
export async function sendForwarderLogs(exporter: LogRecordExporter, rrs: RRPair[], ids: Ids): Promise<void> {
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

export interface Gathered {
  labels: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * What the chart's scripts/loki-gather.py does, written again here from its description: one
 * query_range per page (limit 25, direction backward, [start, cursor)), each line parsed as JSON,
 * the RRPair taken from `body` (the loki exporter's line) or, when the line has no object body and
 * says msgType "rrpair", the line itself (Loki's OTLP endpoint), lines sorted newest first, the
 * cursor moved to the oldest line, records deduplicated by uuid, then cluster and namespace filled
 * from the stream labels where the body says "undefined".
 */
export async function lokiGather(lokiUrl: string, logql: string, startNs: bigint, endNs: bigint): Promise<Gathered[]> {
  const out: Gathered[] = [];
  const seen = new Set<string>();
  let cursor = endNs;
  while (cursor > startNs) {
    const qs = new URLSearchParams({ query: logql, start: String(startNs), end: String(cursor), limit: '25', direction: 'backward' });
    const res = await fetch(`${lokiUrl}/loki/api/v1/query_range?${qs}`);
    expect(res.status).toBe(200);
    const payload = (await res.json()) as { status: string; data: { result: { stream: Record<string, string>; values: [string, string][] }[] } };
    expect(payload.status).toBe('success');
    const page: (Gathered & { ts: bigint })[] = [];
    for (const s of payload.data.result) {
      for (const [ts, line] of s.values) {
        const rec = JSON.parse(line) as { body?: unknown; msgType?: unknown };
        let body = rec.body;
        if ((typeof body !== 'object' || body === null) && rec.msgType === 'rrpair') body = rec;
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

/**
 * Runs a grafana chart config (configs/byoc/…) unchanged but for addresses: its listeners on
 * loopback ports, Loki from `lokiEnv`, the metrics side at a closed port (test/metrics/grafana-chart.test.ts
 * runs that against Prometheus; a short grace period bounds its retries at shutdown). The first
 * half of `rrs` goes in over OTLP gRPC, the rest over OTLP/HTTP, as the forwarder sends; returns
 * once Loki holds them all and rrpipe has shut down.
 */
export async function runGrafanaChart(o: { config: string; dataDir: string; lokiEnv: Record<string, string>; loki: LokiFake; rrs: RRPair[]; idsOf: (i: number) => Ids }): Promise<void> {
  const [g, h, hc, m, closed] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const name = basename(o.config);
  const text = readFileSync(o.config, 'utf8')
    .replace('0.0.0.0:4317', `127.0.0.1:${g}`)
    .replace('0.0.0.0:4318', `127.0.0.1:${h}`)
    .replace('0.0.0.0:13133', `127.0.0.1:${hc}`);
  const service = new Service({
    files: [name],
    texts: { [name]: `${text}\n  data_dir: ${o.dataDir}/state\n  grace_period: 2s\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n` },
    registry: await builtinRegistry(),
    env: {
      ...o.lokiEnv,
      PROMETHEUS_REMOTE_WRITE: `http://127.0.0.1:${closed}/api/v1/write`,
      INTAKE_API_METRICS_TARGET: `127.0.0.1:${closed}`,
      FORWARDER_METRICS_TARGET: `127.0.0.1:${closed}`,
      NETTAP_METRICS_TARGET: `127.0.0.1:${closed}`,
    },
    logger: silentLogger(),
  });
  const half = Math.ceil(o.rrs.length / 2);
  await service.start();
  try {
    await sendForwarderLogs(new GrpcLogExporter({ url: `http://127.0.0.1:${g}` }), o.rrs.slice(0, half), o.idsOf(0));
    await sendForwarderLogs(new ProtoLogExporter({ url: `http://127.0.0.1:${h}/v1/logs` }), o.rrs.slice(half), o.idsOf(half));
    await waitFor(() => o.loki.entries().length === o.rrs.length, { what: `${o.rrs.length} entries in Loki`, timeoutMs: 30_000 });
  } finally {
    await service.shutdown();
  }
}
