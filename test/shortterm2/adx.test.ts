import { KustoConnectionStringBuilder } from 'azure-kusto-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartialFailureError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { AdxStore, factory, type AdxExporterConfig } from '../../src/exporters/azuredataexplorer/index.js';
import { schemaCommands } from '../../src/exporters/azuredataexplorer/schema.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { FakeKusto } from '../support/index.js';
import { chunks, generatedRecords, hugeRecord, queryAll, reference, sampleRecords } from './support.js';

function config(uri: string, extra: Record<string, unknown> = {}): AdxExporterConfig {
  const c = { cluster_uri: uri, ingest_uri: uri, ingestion_type: 'managed', use_azure_auth: true, retention: '21d', ...extra };
  const problems = validateAgainst(factory.schema, c);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return c as unknown as AdxExporterConfig;
}

describe('azuredataexplorer exporter against a Kusto wire fake (managed/streaming ingestion)', () => {
  const kusto = new FakeKusto();
  let store: AdxStore;

  beforeAll(async () => {
    await kusto.start();
    store = new AdxStore(config(kusto.uri), silentLogger(), (uri) => KustoConnectionStringBuilder.withTokenProvider(uri, async () => 'fake-token'));
    await store.start();
  });
  afterAll(async () => {
    await store?.shutdown();
    await kusto.stop();
  });

  it('creates the table, the JSON mapping, the retention and streaming policies', () => {
    const t = kusto.tables.get('RRPairs')!;
    expect(t.columns.find(([c]) => c === 'rrpair')).toEqual(['rrpair', 'dynamic']);
    expect(t.columns.find(([c]) => c === 'ts')).toEqual(['ts', 'datetime']);
    expect(t.mappings.has('rrpair_mapping')).toBe(true);
    expect(t.retention).toBe('21d');
    expect(t.streaming).toBe(true);
  });

  it('streams samples and generated RRPairs and reads them back equal to the reference via KQL', async () => {
    const samples = sampleRecords();
    const gen = generatedRecords(300);
    for (const b of [...chunks(samples, 60), ...chunks(gen, 100)]) await store.push(b);
    await store.push(gen.slice(0, 100)); // replayed batch: deduplicated at query time
    expect(await queryAll(store, { limit: 64 })).toEqual(reference([...samples, ...gen]));
    expect(await queryAll(store, { service: 'orders', method: '^GET$', start: new Date('2025-06-01T23:10:00Z'), limit: 9 })).toEqual(
      reference(gen, (h) => h.doc.service === 'orders' && h.doc.command === 'GET' && h.doc.ts >= '2025-06-01T23:10:00.000'),
    );
    expect(await store.get(samples[0]!.rrpair.uuid!)).toEqual(samples[0]!.rrpair);
  });

  it('a record over max_record_size fails permanently with a clear reason; the rest is ingested', async () => {
    const recs = generatedRecords(3, { services: ['big-test'] });
    const err = await store.push([recs[0]!, hugeRecord(5 * 1024 * 1024), ...recs.slice(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    const f = (err as PartialFailureError).failures;
    expect(f).toEqual([{ index: 1, retryable: false, reason: expect.stringMatching(/^record too large for azuredataexplorer: the row \(max_record_size\) is \d+ bytes, the limit is 4194304 bytes$/) }]);
    expect((await queryAll(store, { service: 'big-test' })).length).toBe(3);
  });

  it('prints the same commands for rrpipe adx-schema', () => {
    const cmds = schemaCommands({ table: 'RRPairs', mapping: 'rrpair_mapping', retentionMs: 21 * 86_400_000, streaming: true });
    expect(cmds[0]).toMatch(/^\.create-merge table \['RRPairs'\] \(\['id'\]:string, \['ts'\]:datetime/);
    expect(cmds[2]).toBe(".alter-merge table ['RRPairs'] policy retention softdelete = 21d recoverability = disabled");
  });
});
