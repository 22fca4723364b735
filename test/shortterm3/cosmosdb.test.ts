import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { factory, itemId, partitionKey, type CosmosExporterConfig } from '../../src/exporters/azurecosmosdb/index.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { freePort, startCosmos, withPipeline, type CosmosServer } from '../support/index.js';
import { expectNothingLost, storeConformance } from '../support/store-conformance.js';
import { build, chunks, FlakyProxy, generatedRecords, queryAll, reference, sendAndDrain, type Built } from '../shortterm2/support.js';
import { Outage } from './support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '60s' },
  timeout: '20s',
  tls: { insecure_skip_verify: true }, // @vercel/cosmosdb-server's certificate is self-signed
};

describe('cosmosdb items', () => {
  it('ids are the RRPair ids with what Cosmos DB forbids escaped; partitions are service#day', () => {
    expect(itemId('abc+=')).toBe('abc+=');
    expect(itemId('a/b\\c?d#e%f')).toBe('a%2Fb%5Cc%3Fd%23e%25f');
    expect(itemId('x'.repeat(300))).toMatch(/^sha256:[0-9a-f]{64}$/);
    const doc = indexDocOf(generatedRecords(1)[0]!);
    expect(partitionKey(doc)).toBe('orders#2025-06-01');
  });

  it('configs/azure-cosmos.yaml loads with Entra ID auth and names the store for query_api', async () => {
    const cfg = await loadConfig(['configs/azure-cosmos.yaml'], { registry: await builtinRegistry(), env: { COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/', AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' } });
    const c = cfg.components.exporters.get('azurecosmosdb')!;
    expect(c.config).toMatchObject({ endpoint: 'https://acct.documents.azure.com:443/', use_azure_auth: true, database: 'rrpipe', container: 'rrpairs', ttl: 14 * 86_400_000, store_rrpair: false });
    expect(cfg.components.extensions.get('query_api')!.config.store).toBe('azurecosmosdb');
  });

  it('a config with no credentials, or two, is refused', async () => {
    const registry = await builtinRegistry();
    const text = (auth: string) => withPipeline(`exporters:\n  azurecosmosdb:\n    endpoint: https://a.documents.azure.com/\n${auth}`);
    await expect(loadConfig(['x.yaml'], { registry, texts: { 'x.yaml': text('') } })).rejects.toThrow(/exactly one of key, managed_identity_id, use_azure_auth/);
    await expect(loadConfig(['x.yaml'], { registry, texts: { 'x.yaml': text('    key: k\n    use_azure_auth: true\n') } })).rejects.toThrow(/exactly one of key/);
  });
});

describe('azurecosmosdb exporter against @vercel/cosmosdb-server', () => {
  let cosmos: CosmosServer;
  let admin: CosmosClient;

  beforeAll(async () => {
    cosmos = await startCosmos();
    admin = new CosmosClient({ endpoint: cosmos.endpoint, key: 'k', agent: new Agent({ rejectUnauthorized: false }), connectionPolicy: { enableEndpointDiscovery: false } });
  });

  afterAll(async () => {
    admin?.dispose();
    await cosmos?.stop();
  });

  async function exporter(container: string, extra: Record<string, unknown> = {}, endpoint = cosmos.endpoint): Promise<Built<CosmosExporterConfig>> {
    return build(factory, { endpoint, key: 'k', database: 'rrpipe', container, ...fast, ...extra });
  }

  async function count(container: string): Promise<number> {
    const { resources } = await admin.database('rrpipe').container(container).items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll();
    return resources[0]!;
  }

  storeConformance('azurecosmosdb', {
    factory: factory as ExporterFactory<unknown>,
    config: (container) => ({ endpoint: cosmos.endpoint, key: 'k', database: 'rrpipe', container, ...fast }),
    count,
    // @vercel/cosmosdb-server runs every query by compiling the SQL to JavaScript and running it
    // over the whole container in this test's process (no index: filter, then sort every match by
    // ts, rrid), about 1 s per query at 20,000 items on a busy 2-core machine; the pages of 7 and
    // 13 hits of the filter block are hundreds of queries at that size, so the filters run on a
    // container of 5,000 and the 20,000 round trip (write, read back all, replay) on its own.
    // Writes are not the limit: bulk upserts of 1,000 go at about 1,000 items/s.
    generated: 20_000,
    filtered: 5_000,
    roundTripTimeoutMs: 1_500_000, // 280 s alone, 520 s beside the Firestore suite, on the busy 2-core machine
    oversize: { bytes: 2_200_000, reason: /^record too large for cosmosdb: the item \(max_item_size\) is \d+ bytes, the limit is 2097152 bytes$/ },
    cli: { component: 'azurecosmosdb/hot', yaml: (container) => `endpoint: ${cosmos.endpoint}\nkey: k\ncontainer: ${container}\ncreate_container: false\ntls: { insecure_skip_verify: true }` },
  });

  it('creates the container partitioned by /pk with the ttl as defaultTtl, a (ts, rrid) composite index and the RRPair not indexed; items carry ttl', async () => {
    const b = await exporter('ttl', { ttl: '3d' });
    try {
      const { resource } = await admin.database('rrpipe').container('ttl').read();
      expect(resource!.partitionKey!.paths).toEqual(['/pk']);
      expect(resource!.defaultTtl).toBe(3 * 86_400);
      expect(resource!.indexingPolicy!.compositeIndexes).toEqual([[{ path: '/ts', order: 'ascending' }, { path: '/rrid', order: 'ascending' }]]);
      expect(resource!.indexingPolicy!.excludedPaths).toContainEqual({ path: '/rrpair/*' });
      const rec = generatedRecords(1)[0]!;
      await sendAndDrain(b, [[rec]]);
      const doc = indexDocOf(rec);
      const { resource: item } = await admin.database('rrpipe').container('ttl').item(itemId(doc.id), partitionKey(doc)).read();
      expect(item).toMatchObject({ id: itemId(doc.id), pk: 'orders#2025-06-01', rrid: doc.id, ts: doc.ts, ttl: 3 * 86_400, rrpair: rec.rrpair });
    } finally {
      await b.stop();
    }
  });

  it('throttling (429 with x-ms-retry-after-ms) is retried after the server\'s wait and loses nothing', async () => {
    const b = await exporter('throttle', { retry_on_failure: { initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: '60s' } });
    try {
      const recs = generatedRecords(300);
      cosmos.throttle(3, 400);
      await sendAndDrain(b, [recs]);
      expect(cosmos.throttled).toBe(3);
      await expectNothingLost(b, recs, () => count('throttle'));
    } finally {
      cosmos.throttle(0, 0);
      await b.stop();
    }
  }, 60_000);

  it('a connection dropped mid-batch loses nothing and duplicates nothing', async () => {
    const proxy = new FlakyProxy(cosmos.port);
    await proxy.start();
    const b = await exporter('drop', {}, `https://127.0.0.1:${proxy.port}`);
    try {
      const recs = generatedRecords(600);
      proxy.dropAfter(150_000);
      await sendAndDrain(b, chunks(recs, 300));
      expect(proxy.drops).toBe(1);
      await expectNothingLost(b, recs, () => count('drop'));
    } finally {
      await b.stop();
      await proxy.stop();
    }
  }, 120_000);

  it('an outage of the backend loses nothing: the batch is retried until it is back', async () => {
    const port = await freePort();
    const outage = new Outage(port, cosmos.port);
    await outage.up();
    const b = await exporter('outage', {}, `https://127.0.0.1:${port}`);
    try {
      await outage.down();
      const recs = generatedRecords(200);
      const sending = sendAndDrain(b, chunks(recs, 100));
      await new Promise((r) => setTimeout(r, 1500));
      await outage.up();
      await sending;
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
      await outage.down();
    }
  }, 120_000);

});
