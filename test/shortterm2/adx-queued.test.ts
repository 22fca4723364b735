import { ContainerClient, ContainerSASPermissions, StorageSharedKeyCredential } from '@azure/storage-blob';
import { QueueClient, QueueSASPermissions, StorageSharedKeyCredential as QueueKey } from '@azure/storage-queue';
import { KustoConnectionStringBuilder } from 'azure-kusto-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { AdxStore, factory, type AdxExporterConfig } from '../../src/exporters/azuredataexplorer/index.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { AZURITE_ACCOUNT as ACCOUNT, AZURITE_KEY as KEY, FakeKusto, startAzurite } from '../support/index.js';
import { chunks, generatedRecords, queryAll, reference, sampleRecords } from './support.js';

describe('azuredataexplorer exporter, queued ingestion: Azurite blob + queue, Kusto wire fake', () => {
  const kusto = new FakeKusto();
  let azurite: Awaited<ReturnType<typeof startAzurite>> | undefined;
  let store: AdxStore;

  beforeAll(async () => {
    azurite = await startAzurite({ queue: true });
    const { blobUrl, queueUrl } = azurite;
    const container = new ContainerClient(`${blobUrl}/${ACCOUNT}/tempstorage`, new StorageSharedKeyCredential(ACCOUNT, KEY));
    await container.create();
    const queue = new QueueClient(`${queueUrl}/${ACCOUNT}/readyforaggregation`, new QueueKey(ACCOUNT, KEY));
    await queue.create();
    const expiresOn = new Date(Date.now() + 3_600_000);
    kusto.ingestionResources = {
      container: await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('racwl'), expiresOn }),
      queue: queue.generateSasUrl({ permissions: QueueSASPermissions.parse('raup'), expiresOn }),
      statusTable: `${blobUrl.replace(/:\d+$/, ':1')}/${ACCOUNT}/ingestionsstatus`,
    };
    await kusto.start();
    const c = { cluster_uri: kusto.uri, ingest_uri: kusto.uri, ingestion_type: 'queued', use_azure_auth: true, retention: '30d' };
    expect(validateAgainst(factory.schema, c)).toEqual([]);
    store = new AdxStore(c as unknown as AdxExporterConfig, silentLogger(), (uri) => KustoConnectionStringBuilder.withTokenProvider(uri, async () => 'fake-token'));
    await store.start();
  }, 60_000);

  afterAll(async () => {
    await store?.shutdown();
    await kusto.stop();
    await azurite?.stop();
  });

  it('uploads each batch to the blob container, announces it on the queue, and reads back the reference', async () => {
    const samples = sampleRecords();
    const gen = generatedRecords(250);
    const batches = [...chunks(samples, 100), ...chunks(gen, 100)];
    for (const b of batches) await store.push(b);
    expect(await queryAll(store, { limit: 100 })).toEqual(reference([...samples, ...gen]));
    expect(kusto.queued.messages).toBe(batches.length);
    expect(kusto.tables.get('RRPairs')!.retention).toBe('30d');
    expect(kusto.tables.get('RRPairs')!.streaming).toBeUndefined();
  }, 60_000);

  it('a batch re-sent after a lost answer is dropped by ingestIfNotExists: nothing duplicated', async () => {
    const recs = generatedRecords(60, { services: ['replayed'] });
    await store.push(recs);
    await store.push(recs); // the exporter helper's retry after a timeout looks like this
    expect(await queryAll(store, { service: 'replayed' })).toEqual(reference(recs));
    expect(kusto.queued.skipped).toBe(1);
    expect(kusto.tables.get('RRPairs')!.rows.filter((r) => r.service === 'replayed')).toHaveLength(60);
  }, 60_000);

  it('throttled management calls (.get ingestion resources) are retried; nothing lost', async () => {
    const recs = generatedRecords(20, { services: ['throttled'] });
    // A fresh client: its first push asks for the ingestion resources, and is throttled.
    const fresh = new AdxStore({ ...(store as unknown as { cfg: AdxExporterConfig }).cfg, create_schema: false }, silentLogger(), (uri) => KustoConnectionStringBuilder.withTokenProvider(uri, async () => 'fake-token'));
    await fresh.start();
    try {
      kusto.throttleMgmt = 1;
      let err: unknown;
      try {
        await fresh.push(recs);
      } catch (e) {
        err = e;
      }
      expect(kusto.throttleMgmt).toBe(0);
      // Either the client retried by itself, or the exporter helper gets a retryable error and retries.
      if (err) {
        expect((err as Error).name).toBe('RetryableError');
        await fresh.push(recs);
      }
      expect(await queryAll(fresh, { service: 'throttled' })).toEqual(reference(recs));
    } finally {
      await fresh.shutdown();
    }
  }, 60_000);
});
