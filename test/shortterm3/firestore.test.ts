import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { documentId, documentSize, factory, type FirestoreExporterConfig } from '../../src/exporters/firestore/index.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import { firestoreEmulator, freePort, missing, runCli, startFirestore, tmpDir, withPipeline } from '../support/index.js';
import { build, chunks, FlakyProxy, generatedRecords, hugeRecord, queryAll, reference, sampleRecords, sendAndDrain, type Built } from '../shortterm2/support.js';
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
  }, 90_000);

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

  it('writes the samples and 20,000 generated RRPairs and reads back exactly the reference through query()', async () => {
    const b = await exporter('eq');
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(20_000);
      await sendAndDrain(b, [...chunks(samples, 60), ...chunks(gen, 1000)]);
      expect(await queryAll(b.component, { limit: 1000 })).toEqual(reference([...samples, ...gen]));

      const start = new Date('2025-06-01T23:30:00Z');
      const end = new Date('2025-06-02T00:20:00Z');
      const want = reference(gen, (h) => h.doc.service === 'orders' && h.doc.ts >= '2025-06-01T23:30:00.000' && h.doc.ts < '2025-06-02T00:20:00.000');
      expect(want.length).toBeGreaterThan(50);
      expect(await queryAll(b.component, { service: 'orders', start, end, limit: 13 })).toEqual(want);
      const narrow = { start: new Date('2025-06-02T10:00:00Z'), end: new Date('2025-06-02T12:00:00Z') };
      expect(await queryAll(b.component, { ...narrow, service: 'payments', method: '^POST$|^PUT$', status: '^(200|404)$', limit: 7 })).toEqual(
        reference(gen, (h) => h.doc.service === 'payments' && ['POST', 'PUT'].includes(h.doc.command) && ['200', '404'].includes(h.doc.status) && h.doc.ts >= '2025-06-02T10:00' && h.doc.ts < '2025-06-02T12:00'),
      );
      expect(await queryAll(b.component, { ...narrow, endpoint: '^/api/users/', direction: 'IN', cluster: 'prod', namespace: 'shop' })).toEqual(
        reference(gen, (h) => h.doc.location.startsWith('/api/users/') && h.doc.direction === 'IN' && h.doc.ts >= '2025-06-02T10:00' && h.doc.ts < '2025-06-02T12:00'),
      );
      expect(await queryAll(b.component, { service: 'openai-client', namespace: 'samples', limit: 50 })).toEqual(reference(samples));
      const one = samples[1]!;
      expect(await b.component.get!(indexDocOf(one).id)).toEqual(one.rrpair);
      expect(await b.component.get!('missing')).toBeUndefined();

      // A replayed batch overwrites the same documents.
      const before = await count('eq');
      expect(before).toBe(reference([...samples, ...gen]).length);
      await sendAndDrain(b, [gen.slice(0, 1000)]);
      expect(await count('eq')).toBe(before);
    } finally {
      await b.stop();
    }
  }, 900_000); // the emulator writes a few hundred documents a second on a busy 2-core machine

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
      expect(await queryAll(b.component, { limit: 1000 })).toEqual(reference(recs));
      expect(await count('drop')).toBe(600);
      expect(await b.host.deadLetters()).toEqual([]);
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

  it('dead-letters a document over 1 MiB with a clear reason and writes the rest', async () => {
    const b = await exporter('big');
    try {
      const recs = generatedRecords(4);
      const huge = hugeRecord(1_100_000);
      await sendAndDrain(b, [[recs[0]!, huge, ...recs.slice(1)]]);
      const dl = await b.host.deadLetters();
      expect(dl).toHaveLength(1);
      expect(dl[0]!.reason).toMatch(/^record too large for firestore: the document \(max_document_size\) is \d+ bytes, the limit is 1048576 bytes$/);
      expect(dl[0]!.rrpair.uuid).toBe(huge.rrpair.uuid);
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
    } finally {
      await b.stop();
    }
  });

  it('rrpipe query --store firestore --output raw prints the RRPairs, with the same filters as the other stores', async () => {
    const b = await exporter('cli');
    const dir = tmpDir('rrpipe-fs-cli-');
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(300);
      await sendAndDrain(b, [samples, gen]);
      const cfg = join(dir.dir, 'c.yaml');
      writeFileSync(cfg, withPipeline(`exporters:\n  firestore/hot:\n    project_id: p\n    collection: cli\n    endpoint: ${endpoint}\n`));
      const out = join(dir.dir, 'raw.jsonl');
      const all = await runCli(['query', '--store', 'firestore/hot', '-c', cfg, '--start', '2020-01-01T00:00:00Z', '--end', '2030-01-01T00:00:00Z', '--limit', '0', '--output', 'raw', '--out', out]);
      expect(all.code, all.stderr).toBe(0);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toEqual(reference([...samples, ...gen]).map((h) => h.rrpair));
      const some = await runCli(['query', '--store', 'firestore/hot', '-c', cfg, '--start', '2020-01-01T00:00:00Z', '--end', '2030-01-01T00:00:00Z', '--service', 'users', '--status', '^404$', '--output', 'jsonl']);
      expect(some.code, some.stderr).toBe(0);
      expect(some.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(reference(gen, (h) => h.doc.service === 'users' && h.doc.status === '404').map((h) => h.doc));
    } finally {
      await b.stop();
      dir.cleanup();
    }
  }, 120_000);
});
