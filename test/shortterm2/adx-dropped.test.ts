import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../../src/exporters/azuredataexplorer/index.js';
import { FakeKusto, startProcessIdentity, type IdentityServer } from '../support/index.js';
import { build, chunks, FlakyProxy, generatedRecords, queryAll, reference, sendAndDrain } from './support.js';

describe('azuredataexplorer: connections dropped mid-ingest (a TCP proxy in front of the Kusto fake)', () => {
  const kusto = new FakeKusto();
  let proxy: FlakyProxy;
  let idp: IdentityServer;

  beforeAll(async () => {
    await kusto.start();
    proxy = new FlakyProxy(kusto.port);
    await proxy.start();
    idp = await startProcessIdentity();
  });

  afterAll(async () => {
    await idp?.stop();
    await proxy?.stop();
    await kusto.stop();
  });

  it('nothing acknowledged is lost and each RRPair is returned once after the exporter recovers', async () => {
    const uri = `http://127.0.0.1:${proxy.port}`;
    const b = await build(factory, {
      cluster_uri: uri, ingest_uri: uri, ingestion_type: 'managed', managed_identity_id: 'system',
      sending_queue: { enabled: false }, retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '60s' },
    });
    try {
      const recs = generatedRecords(600, { services: ['dropped'] });
      const ingestsBefore = kusto.requests.filter((r) => r.includes('/v1/rest/ingest/')).length;
      proxy.dropAfter(12_000); // inside the second of the three streaming ingestions (gzip, ~9 KB each)
      await sendAndDrain(b, chunks(recs, 200));
      expect(proxy.drops).toBe(1);
      // Every batch reached the server in the end (the cut one sent again).
      expect(kusto.requests.filter((r) => r.includes('/v1/rest/ingest/')).length - ingestsBefore).toBeGreaterThanOrEqual(3);
      expect(await queryAll(b.component, { service: 'dropped', limit: 1000 })).toEqual(reference(recs));
      const stored = kusto.tables.get('RRPairs')!.rows.filter((r) => r.service === 'dropped').map((r) => r.id);
      expect(new Set(stored).size).toBe(600);
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
    }
  }, 120_000);
});
