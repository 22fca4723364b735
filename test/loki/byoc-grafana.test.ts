import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { expectedRRPair } from '../otlp/support.js';
import { allSamples, requireBuild, runCli, startLokiFake, tmp, type LokiFake } from '../support/index.js';
import { expectChartMetricsSide, forwarderIds, lokiGather, runGrafanaChart, sentAt } from './support.js';

const CONFIG = join(import.meta.dirname, '../../configs/byoc/grafana.yaml');
const SAMPLES = allSamples();
const WINDOW_NS = 15n * 60n * 1_000_000_000n;

describe('configs/byoc/grafana.yaml (the grafana chart\'s collector: otlphttp/loki into Loki 3\'s OTLP endpoint)', async () => {
  const registry = await builtinRegistry();

  it('validates as the chart renders it: transform/loki-labels, otlphttp/loki at <loki>/otlp, the three pipelines', async () => {
    const cfg = await loadConfig([CONFIG], { registry, env: {} });
    expect(cfg.components.exporters.get('otlphttp/loki')!.config).toMatchObject({
      endpoint: 'http://loki.byoc-grafana.svc.cluster.local:3100/otlp',
      compression: 'gzip',
      encoding: 'proto',
    });
    expect(cfg.components.processors.get('transform/loki-labels')!.config).toMatchObject({
      log_statements: [{ context: 'log', statements: ['set(resource.attributes["service"], attributes["service"])', 'set(resource.attributes["namespace"], attributes["namespace"])'] }],
    });
    expect(cfg.pipelines.get('logs')).toMatchObject({ receivers: ['otlp'], processors: ['transform/loki-labels', 'batch'], exporters: ['otlphttp/loki', 'debug'] });
    expect(cfg.components.exporters.has('loki')).toBe(false);
    expectChartMetricsSide(cfg);
  });

  describe('runs end to end into the Loki fake\'s OTLP endpoint; loki-gather\'s query reads back every RRPair, field for field', () => {
    let loki: LokiFake;
    let data: string;
    const half = Math.ceil(SAMPLES.length / 2);
    const idsOf = forwarderIds(half);

    beforeAll(async () => {
      // The chart's Loki promotes the resource attributes the transform sets (and the forwarder's
      // cluster) to index labels: otlp_config.resource_attributes.attributes_config, index_label.
      loki = await startLokiFake({ otlpIndexLabels: ['service', 'namespace', 'cluster'] });
      data = tmp('rrpipe-byoc-grafana-otlp-');
      await runGrafanaChart({ config: CONFIG, dataDir: data, lokiEnv: { LOKI_OTLP_ENDPOINT: `${loki.url}/otlp` }, loki, rrs: SAMPLES, idsOf });
    });
    afterAll(async () => {
      await loki?.stop();
      if (data) rmSync(data, { recursive: true, force: true });
    });

    it('every push went to /otlp/v1/logs as gzip protobuf and was accepted; streams carry the labels the transform put on the resource', () => {
      expect(loki.pushes.length).toBeGreaterThan(0);
      for (const p of loki.pushes) expect(p).toMatchObject({ path: '/otlp/v1/logs', contentType: 'application/x-protobuf', contentEncoding: 'gzip', status: 204 });
      const labelSets = new Set(loki.entries().map((e) => JSON.stringify(e.labels)));
      expect([...labelSets].map((s) => JSON.parse(s))).toEqual(expect.arrayContaining([
        { cluster: 'east', namespace: 'prod', service: 'billing', service_name: 'unknown_service' },
        { cluster: 'east', namespace: 'shop', service: 'orders', service_name: 'unknown_service' },
      ]));
      expect(labelSets.size).toBe(2);
      const byUuid = new Map(SAMPLES.map((rr, i) => [rr.uuid, { rr, ids: idsOf(i) }]));
      for (const e of loki.entries()) {
        // The line is the log body itself: the RRPair as sent, with the identity fields the
        // forwarder left "undefined" filled from its attributes (rrpipe's otlp receiver does that).
        const line = JSON.parse(e.line) as RRPair;
        const sent = byUuid.get(line.uuid)!;
        expect(line).toEqual(expectedRRPair(sent.rr, sent.ids));
        // The log attributes stay as structured metadata; the timestamp is the log record's, to the ns.
        // The scope is the forwarder's, relayed as the Collector relays it (records keep their instrumentation scope).
        expect(e.metadata).toEqual({ service: sent.ids.service, namespace: sent.ids.namespace, scope_name: 'speedscale-forwarder' });
        expect(e.tsNs).toBe(sentAt.get(line.uuid as string));
      }
    });

    it('loki-gather\'s default query {service=~".+"} | json over the last 15 minutes gives back the 189 RRPairs; its status filter too', async () => {
      const end = BigInt(Date.now()) * 1_000_000n;
      const got = await lokiGather(loki.url, '{service=~".+"} | json', end - WINDOW_NS, end);
      expect(got).toHaveLength(SAMPLES.length);
      const byUuid = new Map(got.map((g) => [g.body.uuid, g]));
      SAMPLES.forEach((rr, i) => {
        const g = byUuid.get(rr.uuid)!;
        expect(g.body).toEqual(expectedRRPair(rr, idsOf(i)));
        // Stream labels, structured metadata and the fields `| json` extracted from the RRPair line.
        expect(g.labels).toMatchObject({ ...idsOf(i), service_name: 'unknown_service', uuid: rr.uuid, msgType: 'rrpair' });
      });
      const filtered = await lokiGather(loki.url, '{service="orders"} | json | status=~"2.."', end - WINDOW_NS, end);
      const expected = SAMPLES.slice(half).filter((rr) => /^2..$/.test(String(rr.status)));
      expect(expected.length).toBeGreaterThan(0);
      expect(filtered.map((f) => f.body.uuid).sort()).toEqual(expected.map((rr) => rr.uuid).sort());
    });

    it('rrpipe snapshot --from loki://… reads the OTLP lines back: the same RRPairs, ordered by ts', async () => {
      requireBuild();
      const out = join(data, 'snap.jsonl');
      const r = await runCli(['snapshot', '--from', `loki://${loki.url.replace('http://', '')}`, '--start', '-15m', '--out', out]);
      expect(r.stderr).toMatch(/189 records from Loki/);
      expect(r.code).toBe(0);
      const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RRPair);
      expect(lines).toHaveLength(SAMPLES.length);
      const byUuid = new Map(lines.map((l) => [l.uuid, l]));
      SAMPLES.forEach((rr, i) => expect(byUuid.get(rr.uuid)).toEqual(expectedRRPair(rr, idsOf(i))));
      const ts = lines.map((l) => l.ts!);
      expect(ts).toEqual([...ts].sort());
      expect(loki.queries.at(-1)!.query).toBe('{service=~".+"} | json');
    });
  });
});
