import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { expectedRRPair } from '../otlp/support.js';
import { allSamples, requireBuild, runCli, startLokiFake, tmp, type LokiFake } from '../support/index.js';
import { expectChartMetricsSide, forwarderIds, lokiGather, runGrafanaChart, sentAt } from './support.js';

const CONFIG = join(import.meta.dirname, '../../configs/byoc/grafana-loki-exporter.yaml');
const SAMPLES = allSamples();

describe('configs/byoc/grafana-loki-exporter.yaml (the grafana chart\'s earlier collector: the loki exporter into Loki 2.9\'s push API)', async () => {
  const registry = await builtinRegistry();

  it('validates as the chart renders it: hint processors, loki exporter with default_labels_enabled, the three pipelines', async () => {
    const cfg = await loadConfig([CONFIG], { registry, env: {} });
    expect(cfg.components.exporters.get('loki')!.config).toMatchObject({
      endpoint: 'http://loki.byoc-grafana.svc.cluster.local:3100/loki/api/v1/push',
      default_labels_enabled: { exporter: true, job: true },
      encoding: 'protobuf',
    });
    expect(cfg.pipelines.get('logs')).toMatchObject({ receivers: ['otlp'], processors: ['resource/loki-hints', 'attributes/loki-hints', 'batch'], exporters: ['loki', 'debug'] });
    expectChartMetricsSide(cfg);
  });

  describe('runs end to end into the Loki fake; loki-gather\'s query reads back every RRPair, field for field', () => {
    let loki: LokiFake;
    let data: string;
    const half = Math.ceil(SAMPLES.length / 2);
    const idsOf = forwarderIds(half);
    let sentFrom = 0n;
    let sentTo = 0n;

    beforeAll(async () => {
      loki = await startLokiFake();
      data = tmp('rrpipe-byoc-grafana-');
      sentFrom = BigInt(Date.now()) * 1_000_000n;
      await runGrafanaChart({ config: CONFIG, dataDir: data, lokiEnv: { LOKI_ENDPOINT: `${loki.url}/loki/api/v1/push` }, loki, rrs: SAMPLES, idsOf });
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
      const got = await lokiGather(loki.url, '{service=~".+"} | json', end - 15n * 60n * 1_000_000_000n, end);
      expect(got).toHaveLength(SAMPLES.length);
      const byUuid = new Map(got.map((g) => [g.body.uuid, g]));
      SAMPLES.forEach((rr, i) => {
        const g = byUuid.get(rr.uuid)!;
        expect(g.body).toEqual(expectedRRPair(rr, idsOf(i)));
        expect(g.labels).toMatchObject({ ...idsOf(i), exporter: 'OTLP', body_uuid: rr.uuid });
      });
      // The gather script's filter flags: a stream label and a body field.
      const filtered = await lokiGather(loki.url, '{service="orders"} | json | body_status=~"2.."', end - 15n * 60n * 1_000_000_000n, end);
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
