import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import type { Consumer } from '../../src/core/component.js';
import { PartialFailureError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch, type RRRecord } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { factory } from '../../src/processors/filter/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { readJsonl, sampleFiles } from '../support/samples.js';
import { configOf, makeProcessor } from './helpers.js';

/** Real sample RRPairs, each tagged with a workload as the Speedscale forwarder tags them. */
function workloads(): RRRecord[] {
  const pairs = sampleFiles().flatMap(readJsonl);
  const apps = [
    ['banking-app', 'banking-gateway'],
    ['banking-app', 'banking-transactions'],
    ['shop', 'cart'],
  ] as const;
  return pairs.map((rr: RRPair, i) => {
    const [ns, app] = apps[i % apps.length]!;
    return newRecord({ ...rr, tags: { ...rr.tags, k8sAppPodNamespace: ns, k8sAppLabel: app } });
  });
}

const appOf = (r: RRRecord) => (r.rrpair.tags as Record<string, string>).k8sAppLabel;

// The shape of the fluentbit-s3 chart's layout mode (speedscale/speedscale-byoc, charts/fluentbit-s3,
// layout.enabled): one pipeline per known workload keeps only that workload, and filter/byoc_unmatched
// drops every known workload so the rest goes to the base prefix. Written for this test.
const byocFilters = {
  unmatched: {
    error_mode: 'ignore',
    logs: {
      log_record: [
        'body["tags"]["k8sAppPodNamespace"] == "banking-app" and body["tags"]["k8sAppLabel"] == "banking-gateway"',
        'body["tags"]["k8sAppPodNamespace"] == "banking-app" and body["tags"]["k8sAppLabel"] == "banking-transactions"',
      ],
    },
  },
  gateway: {
    error_mode: 'ignore',
    logs: { log_record: ['not (body["tags"]["k8sAppPodNamespace"] == "banking-app" and body["tags"]["k8sAppLabel"] == "banking-gateway")'] },
  },
};

describe('filter processor, OTel OTTL form (processor/filterprocessor README: drop when any condition matches)', () => {
  it('filter/byoc_unmatched drops the known workloads and keeps the rest; a per-workload filter keeps only its workload', async () => {
    const input = workloads();
    expect(input.length).toBeGreaterThan(5);
    const unmatched = await makeProcessor(factory, byocFilters.unmatched);
    await unmatched.proc.consume(input.map((r) => structuredClone(r)), {});
    const rest = unmatched.sink.records;
    expect(rest.length).toBe(input.filter((r) => appOf(r) === 'cart').length);
    expect(new Set(rest.map(appOf))).toEqual(new Set(['cart']));
    expect(await unmatched.telemetry.total('dropped', { reason: 'filtered' })).toBe(input.length - rest.length);

    const gateway = await makeProcessor(factory, byocFilters.gateway);
    await gateway.proc.consume(input.map((r) => structuredClone(r)), {});
    expect(gateway.sink.records.length).toBe(input.filter((r) => appOf(r) === 'banking-gateway').length);
    expect(gateway.sink.records.every((r) => appOf(r) === 'banking-gateway')).toBe(true);
    // records pass unchanged
    expect(gateway.sink.records[0]!.rrpair).toEqual(input.find((r) => appOf(r) === 'banking-gateway')!.rrpair);
  });

  it('the grafana chart filter/http-only drops what is not HTTP, reading an attribute set by transform', async () => {
    const { proc, sink } = await makeProcessor(factory, { error_mode: 'ignore', logs: { log_record: ['attributes["l7"] != "http"'] } });
    const mk = (l7: string) => newRecord({ ts: '2025-01-01T00:00:00Z', l7protocol: l7 }, { attributes: { l7 } });
    await proc.consume([mk('http'), mk('postgres'), mk('grpc'), mk('http')], {});
    expect(sink.records.map((r) => r.rrpair.l7protocol)).toEqual(['http', 'http']);
  });

  it('rrpipe rules still work next to OTTL conditions (OTTL first, then include/exclude)', async () => {
    const { proc, sink } = await makeProcessor(factory, {
      logs: { log_record: ['body["service"] == "noise"'] },
      exclude: { rules: [{ field: 'service', exact: 'db' }] },
    });
    const mk = (service: string) => newRecord({ ts: '2025-01-01T00:00:00Z', l7protocol: 'http', service });
    await proc.consume([mk('web'), mk('noise'), mk('db'), mk('api')], {});
    expect(sink.records.map((r) => r.rrpair.service)).toEqual(['web', 'api']);
  });

  describe('error_mode (OTel default propagate)', () => {
    const failing = ['body["service"]["x"] == "y"', 'body["service"] == "drop-me"']; // the first fails: a string cannot be indexed
    const input = () => [newRecord({ ts: 't', service: 'drop-me' }), newRecord({ ts: 't', service: 'web' })];

    it('ignore: the failing condition counts as false, the next one still applies', async () => {
      const { proc, sink } = await makeProcessor(factory, { error_mode: 'ignore', logs: { log_record: failing } });
      await proc.consume(input(), {});
      expect(sink.records.map((r) => r.rrpair.service)).toEqual(['web']);
    });

    it('silent: the same, without logging', async () => {
      const { proc, sink } = await makeProcessor(factory, { error_mode: 'silent', logs: { log_record: failing } });
      await proc.consume(input(), {});
      expect(sink.records.map((r) => r.rrpair.service)).toEqual(['web']);
    });

    it('propagate (default): each failing record is refused permanently, the others go on', async () => {
      const cfg = configOf(factory, { logs: { log_record: failing } });
      expect(cfg.error_mode).toBe('propagate');
      const { proc, sink } = await makeProcessor(factory, { logs: { log_record: failing } });
      const err = await proc.consume([newRecord({ ts: 't', service: 'web' }), newRecord({ ts: 't', l7protocol: 'x' })], {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartialFailureError);
      const pf = err as PartialFailureError;
      expect(pf.retryable).toBe(false);
      expect(pf.failures.map((f) => f.index)).toEqual([0]);
      expect(pf.failures[0]!.reason).toMatch(/does not support indexing/);
      expect(sink.records.map((r) => r.rrpair.l7protocol)).toEqual(['x']);
    });

    it('propagate: failures from the next stage are reported at their index in the original batch', async () => {
      const next: Consumer = {
        consume: async (b: RecordBatch) => {
          throw new PartialFailureError([{ index: b.length - 1, reason: 'downstream', retryable: true }]);
        },
      };
      const telemetry = new Telemetry({ processMetrics: false });
      const proc = await factory.create({ id: 'filter', kind: 'processor', config: configOf(factory, { logs: { log_record: failing } }), logger: silentLogger(), metrics: telemetry.forComponent('filter', 'processor', 't'), pipeline: 't', configDir: '.' }, next);
      const err = (await proc.consume([newRecord({ ts: 't', service: 'web' }), newRecord({ ts: 't', l7protocol: 'a' }), newRecord({ ts: 't', l7protocol: 'b' })], {}).catch((e: unknown) => e)) as PartialFailureError;
      expect(err.failures.map((f) => [f.index, f.retryable])).toEqual([[0, false], [2, true]]);
    });
  });
});

describe('filter OTTL config errors point into the YAML string (file:line:column)', () => {
  it('a plain, a single-quoted and a double-quoted condition', async () => {
    const registry = await builtinRegistry();
    const yaml = [
      'receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:0" } } } }',
      'processors:',
      '  filter/byoc_unmatched:',
      '    error_mode: ignore',
      '    logs:',
      '      log_record:',
      `        - 'body["tags"]["k8sAppLabel"] == "a" and'`,
      '        - "body[\\"tags\\"] = 1"',
      '        - Frob(body) == 1',
      '        - IsMatch(body["a"], "^x$$") and body["b"] =',
      'exporters: { debug: {} }',
      'service: { pipelines: { logs: { receivers: [otlp], processors: [filter/byoc_unmatched], exporters: [debug] } } }',
    ].join('\n');
    const err = await loadConfig(['c.yaml'], { registry, env: {}, texts: { 'c.yaml': yaml } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).message.split('\n').filter((l) => l.startsWith('c.yaml:'));
    // line 7: the quote is at column 11; the text ends (offset 38) where a value was expected
    expect(lines[0]).toMatch(/^c\.yaml:7:50: processors\.filter\/byoc_unmatched: unexpected end of the expression \(expected a value/);
    // line 8: "body[\"tags\"] = 1" — the "=" is character 13 of the text, column 11 + 1 + 15 (two escapes)
    expect(lines[1]).toMatch(/^c\.yaml:8:27: .*"=" is not a comparison/);
    expect(lines[2]).toMatch(/^c\.yaml:9:11: .*unknown converter "Frob"/);
    // line 10: "$$" is one "$" after expansion; the "=" is at offset 40 of the text, 41 in the YAML
    expect(lines[3]).toMatch(/^c\.yaml:10:52: .*"=" is not a comparison/);
    expect((err as ConfigError).message).toContain('^');
  });
});
