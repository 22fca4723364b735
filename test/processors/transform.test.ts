import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { PartialFailureError } from '../../src/core/errors.js';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { logsRequestToRecords, recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { factory } from '../../src/processors/transform/index.js';
import { readJsonl, sampleFiles } from '../support/samples.js';
import { configOf, makeProcessor } from './helpers.js';

/** Sample RRPairs as the OTLP receiver delivers them (through the OTLP mapping, with the forwarder's attributes). */
function fromOtlp(): RRRecord[] {
  const pairs = sampleFiles().flatMap(readJsonl);
  const recs = pairs.map((rr) => newRecord(rr, { attributes: { service: rr.service ?? 'svc', namespace: 'bank' }, resource: { cluster: 'c1' } }));
  const doc = JSON.parse(JSON.stringify(recordsToOtlpJson(recs)));
  return logsRequestToRecords(doc).records;
}

describe('transform processor (processor/transformprocessor README; statements per pkg/ottl)', () => {
  it('the grafana chart transform/loki-labels: service and namespace copied onto the resource', async () => {
    const input = fromOtlp();
    const { proc, sink } = await makeProcessor(factory, {
      log_statements: [{ context: 'log', statements: ['set(resource.attributes["service"], attributes["service"])', 'set(resource.attributes["namespace"], attributes["namespace"])'] }],
    });
    await proc.consume(input, {});
    expect(sink.records).toHaveLength(input.length);
    for (const r of sink.records) {
      expect(r.resource).toEqual({ cluster: 'c1', service: r.attributes.service, namespace: 'bank' });
    }
  });

  it('the grafana chart transform/rrpair-attrs: body fields promoted to attributes, duration as a double', async () => {
    const input = fromOtlp();
    const { proc, sink } = await makeProcessor(factory, {
      log_statements: [{
        context: 'log',
        statements: [
          'set(attributes["svc"],         body["service"])',
          'set(attributes["status"],      body["status"])',
          'set(attributes["l7"],          body["l7protocol"])',
          'set(attributes["duration_ms"], Double(body["duration"]))',
        ],
      }],
    });
    await proc.consume(input, {});
    for (const r of sink.records) {
      const a = r.attributes as Record<string, unknown>;
      expect(a.svc).toBe(r.rrpair.service);
      expect(a.l7).toBe(r.rrpair.l7protocol);
      if (r.rrpair.status !== undefined) expect(a.status).toBe(r.rrpair.status);
      else expect('status' in a).toBe(false); // set with nil does nothing
      expect(a.duration_ms).toBe(r.rrpair.duration);
    }
    expect(sink.records.some((r) => typeof (r.attributes as Record<string, unknown>).duration_ms === 'number')).toBe(true);
  });

  it('the flat form, conditions on a group, and the resource context', async () => {
    const mk = () => [newRecord({ ts: 't', l7protocol: 'http', service: 'web' }, { resource: { cluster: 'c1' } }), newRecord({ ts: 't', l7protocol: 'grpc', service: 'api' }, { resource: { cluster: 'c2' } })];
    const { proc, sink } = await makeProcessor(factory, {
      log_statements: [
        'set(attributes["seen"], true)',
        { context: 'log', conditions: ['body["l7protocol"] == "grpc"', 'body["service"] == "nothing"'], statements: ['set(attributes["rpc"], Concat([body["service"], "rpc"], "-"))'] },
        { context: 'resource', statements: ['set(attributes["env"], "prod") where attributes["cluster"] == "c1"'] },
        'delete_key(body, "service") where body["l7protocol"] == "http"',
      ],
    });
    await proc.consume(mk(), {});
    const [a, b] = sink.records;
    expect(a!.attributes).toEqual({ seen: true });
    expect(b!.attributes).toEqual({ seen: true, rpc: 'api-rpc' });
    expect(a!.resource).toEqual({ cluster: 'c1', env: 'prod' });
    expect(b!.resource).toEqual({ cluster: 'c2' });
    expect('service' in a!.rrpair).toBe(false);
    expect(b!.rrpair.service).toBe('api');
  });

  it('merge_maps and keep_keys over real RRPair headers', async () => {
    const input = fromOtlp().slice(0, 3);
    const { proc, sink } = await makeProcessor(factory, {
      log_statements: ['merge_maps(attributes, body["tags"], "insert")', 'keep_keys(attributes, ["service", "source", "sequence"])'],
    });
    await proc.consume(input, {});
    for (const r of sink.records) {
      const tags = r.rrpair.tags as Record<string, string>;
      expect(r.attributes).toEqual({ service: r.rrpair.service ?? 'svc', source: tags.source, sequence: tags.sequence });
    }
  });

  it('error_mode ignore skips the failing statement and runs the next; propagate refuses the record', async () => {
    const statements = ['set(attributes["a"], body["service"]["nested"])', 'set(attributes["b"], "after")'];
    const ignore = await makeProcessor(factory, { error_mode: 'ignore', log_statements: statements });
    await ignore.proc.consume([newRecord({ ts: 't', service: 'web' })], {});
    expect(ignore.sink.records[0]!.attributes).toEqual({ b: 'after' });

    expect(configOf(factory, { log_statements: statements }).error_mode).toBe('propagate');
    const prop = await makeProcessor(factory, { log_statements: statements });
    const err = await prop.proc.consume([newRecord({ ts: 't', service: 'web' }), newRecord({ ts: 't' })], {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    expect((err as PartialFailureError).failures).toEqual([{ index: 0, reason: expect.stringMatching(/does not support indexing/), retryable: false }]);
    expect(prop.sink.records).toHaveLength(1);
    expect(prop.sink.records[0]!.attributes).toEqual({ b: 'after' });

    const groupIgnore = await makeProcessor(factory, { log_statements: [{ context: 'log', error_mode: 'silent', statements }] });
    await groupIgnore.proc.consume([newRecord({ ts: 't', service: 'web' })], {});
    expect(groupIgnore.sink.records[0]!.attributes).toEqual({ b: 'after' });
  });

  it('a statement error in a block scalar points at its line and column', async () => {
    const registry = await builtinRegistry();
    const yaml = [
      'receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:0" } } } }',
      'processors:',
      '  transform/x:',
      '    log_statements:',
      '      - context: log',
      '        statements:',
      '          - |',
      '            set(attributes["a"],',
      '                Doubel(body["duration"]))',
      '      - context: scope',
      '        statements: [ "set(attributes[\\"a\\"], 1)" ]',
      'exporters: { debug: {} }',
      'service: { pipelines: { logs: { receivers: [otlp], processors: [transform/x], exporters: [debug] } } }',
    ].join('\n');
    const err = await loadConfig(['t.yaml'], { registry, env: {}, texts: { 't.yaml': yaml } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    expect(msg).toMatch(/^t\.yaml:9:17: processors\.transform\/x: unknown converter "Doubel"/m);
    expect(msg).toMatch(/^t\.yaml:10:\d+: processors\.transform\/x: context "scope" is not supported/m);
  });
});
