import { readFileSync } from 'node:fs';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { documentId, documentSize, factory, type FirestoreExporterConfig } from '../../src/exporters/firestore/index.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { firestoreEmulator, freePort, missing, startFirestore } from '../support/index.js';
import { GrpcFaultProxy } from '../support/grpc-fault-proxy.js';
import { expectNothingLost, storeConformance } from '../support/store-conformance.js';
import { build, chunks, FlakyProxy, generatedRecords, queryAll, reference, sendAndDrain, type Built } from '../shortterm2/support.js';
import { Outage } from './support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '60s' },
  timeout: '20s',
  initial_ops_per_second: 20_000,
  max_ops_per_second: 20_000,
};

describe('firestore documents', () => {
  it('ids are the RRPair ids, with what Firestore forbids in a document id escaped', () => {
    expect(documentId('abc+=')).toBe('abc+=');
    expect(documentId('a/b%c')).toBe('a%2Fb%25c');
    expect(documentId('.')).toBe('%2E');
    expect(documentId('..')).toBe('%2E.');
    expect(documentId('__x__')).toBe('%5F_x__');
    expect(new Set(['a/b', 'a%2Fb'].map(documentId)).size).toBe(2);
  });

  it('sizes are counted as Firestore counts them', () => {
    // name: "rrpairs"(8) + "id1"(4) + 16; fields: "a"(2)+"xyz"(4), "n"(2)+8, "b"(2)+1; + 32
    expect(documentSize('rrpairs', 'id1', { a: 'xyz', n: 5, b: true })).toBe(8 + 4 + 16 + 6 + 10 + 3 + 32);
  });

  it('the shipped firestore.indexes.json has a composite index for each query shape the store runs', () => {
    const spec = JSON.parse(readFileSync('src/exporters/firestore/firestore.indexes.json', 'utf8')) as {
      indexes: { collectionGroup: string; fields: { fieldPath: string; order: string }[] }[];
      fieldOverrides: { fieldPath: string; ttl?: boolean; indexes: unknown[] }[];
    };
    const shapes = spec.indexes.map((i) => i.fields.map((f) => `${f.fieldPath}:${f.order}`).join(','));
    expect(shapes).toContain('ts:ASCENDING,id:ASCENDING');
    expect(shapes).toContain('service:ASCENDING,ts:ASCENDING,id:ASCENDING');
    const ttl = spec.fieldOverrides.find((o) => o.ttl);
    expect(ttl?.fieldPath).toBe('expire_at');
    expect(spec.fieldOverrides.find((o) => o.fieldPath === 'rrpair')?.indexes).toEqual([]);
  });

  it('configs/gcp-firestore.yaml loads and names the firestore store for query_api', async () => {
    const cfg = await loadConfig(['configs/gcp-firestore.yaml'], { registry: await builtinRegistry(), env: { GOOGLE_CLOUD_PROJECT: 'p', RRPIPE_ARCHIVE_BUCKET: 'b' } });
    const c = cfg.components.exporters.get('firestore')!;
    expect(c.config).toMatchObject({ project_id: 'p', database_id: '(default)', collection: 'rrpairs', ttl: 14 * 86_400_000, ttl_field: 'expire_at', store_rrpair: false });
    expect(cfg.components.extensions.get('query_api')!.config.store).toBe('firestore');
  });
});

describe.skipIf(missing(firestoreEmulator(), 'the Google Cloud CLI\'s Firestore emulator: apt-get install google-cloud-cli-firestore-emulator from Google\'s apt repository, or gcloud components install cloud-firestore-emulator'))('firestore exporter against the Firestore emulator', () => {
  let emu: Awaited<ReturnType<typeof startFirestore>> | undefined;
  let endpoint = '';
  let admin: Firestore;

  beforeAll(async () => {
    emu = await startFirestore();
    endpoint = emu.endpoint;
    admin = new Firestore({ projectId: 'p', host: endpoint, ssl: false });
  }, 480_000);

  afterAll(async () => {
    await admin?.terminate().catch(() => {});
    await emu?.stop();
  });

  async function exporter(collection: string, extra: Record<string, unknown> = {}, ep = endpoint): Promise<Built<FirestoreExporterConfig>> {
    return build(factory, { project_id: 'p', collection, endpoint: ep, ...fast, ...extra });
  }

  async function count(collection: string): Promise<number> {
    const snap = await admin.collection(collection).count().get();
    return snap.data().count;
  }

  storeConformance('firestore', {
    factory: factory as ExporterFactory<unknown>,
    config: (collection) => ({ project_id: 'p', collection, endpoint, ...fast }),
    count,
    generated: 20_000,
    roundTripTimeoutMs: 900_000, // the emulator writes a few hundred documents a second on a busy 2-core machine
    oversize: { bytes: 1_100_000, reason: /^record too large for firestore: the document \(max_document_size\) is \d+ bytes, the limit is 1048576 bytes$/ },
    cli: { component: 'firestore/hot', yaml: (collection) => `project_id: p\ncollection: ${collection}\nendpoint: ${endpoint}` },
  });

  it('sets the TTL field to the receive time plus ttl', async () => {
    const b = await exporter('ttl', { ttl: '3d' });
    try {
      const recs = generatedRecords(3);
      await sendAndDrain(b, [recs]);
      for (const r of recs) {
        const snap = await admin.collection('ttl').doc(documentId(indexDocOf(r).id)).get();
        expect(snap.get('expire_at').toMillis()).toBe(Number(r.observedNs / 1_000_000n) + 3 * 86_400_000);
        expect(typeof snap.get('rrpair')).toBe('string');
      }
    } finally {
      await b.stop();
    }
  });

  it('a connection dropped mid-batch loses nothing and duplicates nothing', async () => {
    const port = Number(endpoint.split(':')[1]);
    const proxy = new FlakyProxy(port);
    await proxy.start();
    const b = await exporter('drop', {}, `127.0.0.1:${proxy.port}`);
    try {
      const recs = generatedRecords(600);
      proxy.dropAfter(60_000);
      await sendAndDrain(b, chunks(recs, 300));
      expect(proxy.drops).toBe(1);
      await expectNothingLost(b, recs, () => count('drop'));
    } finally {
      await b.stop();
      await proxy.stop();
    }
  }, 120_000);

  it('throttling (RESOURCE_EXHAUSTED) and UNAVAILABLE answers to BatchWrite are retried with backoff and lose nothing', async () => {
    const proxy = new GrpcFaultProxy(endpoint);
    await proxy.start();
    const b = await exporter('throttle', {}, proxy.endpoint);
    try {
      proxy.fail(/\/google\.firestore\.v1\.Firestore\/BatchWrite$/, 8, 3, 'Quota exceeded.');
      proxy.fail(/\/google\.firestore\.v1\.Firestore\/BatchWrite$/, 14, 2, 'The service is currently unavailable.');
      const recs = generatedRecords(400);
      await sendAndDrain(b, chunks(recs, 200));
      expect(proxy.faulted.map((f) => f.code)).toEqual([8, 8, 8, 14, 14]);
      await expectNothingLost(b, recs, () => count('throttle'));
    } finally {
      await b.stop();
      await proxy.stop();
    }
  }, 120_000);

  it('an outage of the backend loses nothing: the batch is retried until it is back', async () => {
    const port = await freePort();
    const outage = new Outage(port, Number(endpoint.split(':')[1]));
    await outage.up();
    const b = await exporter('outage', {}, `127.0.0.1:${port}`);
    try {
      await sendAndDrain(b, [generatedRecords(10)]);
      await outage.down();
      const recs = generatedRecords(200, { base: Date.parse('2025-07-01T00:00:00Z') });
      const sending = sendAndDrain(b, chunks(recs, 100));
      await new Promise((r) => setTimeout(r, 1500));
      await outage.up();
      await sending;
      expect(await queryAll(b.component, { start: new Date('2025-07-01T00:00:00Z') })).toEqual(reference(recs));
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
      await outage.down();
    }
  }, 120_000);

});
