import { Storage } from '@google-cloud/storage';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsStore } from '../../src/layouts/gcs.js';
import { readAll } from '../../src/layouts/store.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { crc32c, FakeGcs, tmp } from '../support/index.js';
import { canon, corpus, expectSameRecords, rehydrateInto, runOnce, sources } from './support.js';

const fake = new FakeGcs();
let endpoint: string;
const pairs = corpus(2000);
sources.set('gcs', pairs);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
const ALL = { start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z' };
// The OTel layouts name objects by write time: those cases use records of the last 30 hours.
const recent = corpus(2000, Date.now() - 30 * 3_600_000).filter((p) => p.resource === 'gen');
sources.set('gcs-recent', recent);
const byUuidRecent = new Map(recent.map((p) => [p.uuid!, canon(p)]));
const RECENT = { start: new Date(Date.now() - 31 * 3_600_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() };

beforeAll(async () => {
  endpoint = await fake.start();
  await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).createBucket('archive');
});
afterAll(async () => {
  await fake.stop();
});

describe('the GCS wire fake', () => {
  it('computes CRC32C as GCS does (RFC 3720 check value)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
  it('rejects calls it does not implement', async () => {
    const res = await fetch(`${endpoint}/storage/v1/b/archive/o/x/compose`, { method: 'POST' });
    expect(res.status).toBe(501);
    fake.rejected.length = 0;
  });
  it('refuses an upload whose crc32c does not match', async () => {
    const boundary = 'b1';
    const body = `--${boundary}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify({ name: 'x', crc32c: 'AAAAAA==' })}\r\n--${boundary}\r\ncontent-type: text/plain\r\n\r\nhello\r\n--${boundary}--`;
    const res = await fetch(`${endpoint}/upload/storage/v1/b/archive/o?uploadType=multipart`, { method: 'POST', headers: { 'content-type': `multipart/related; boundary=${boundary}` }, body });
    expect(res.status).toBe(400);
  });
});

describe('googlecloudstorage exporter → GCS fake → rehydrate and snapshot', () => {
  const cases = [
    { prefix: 'native', block: '    bucket: { name: archive, file_prefix: native, storage_class: NEARLINE, endpoint: ENDPOINT }\n    layout: native' },
    { prefix: 'otel', block: '    bucket: { name: archive, file_prefix: otel, storage_class: COLDLINE, endpoint: ENDPOINT }\n    layout: otel_awss3\n    resumable_threshold: 1KiB\n    chunk_size: 256KiB' },
    { prefix: 'fb', block: '    bucket: { name: archive, file_prefix: fb, endpoint: ENDPOINT }\n    layout: fluentbit_s3' },
    // Unconfigured layout: the OTel googlecloudstorage exporter's <file_prefix>_<uuid> names.
    { prefix: 'gcsotel', block: '    bucket: { name: archive, file_prefix: gcsotel, endpoint: ENDPOINT }' },
  ];
  for (const c of cases) {
    it(`${c.prefix}: every record comes back equal, once`, async () => {
      const otel = !c.block.includes('layout: native') && !c.block.includes('fluentbit_s3');
      const win = otel ? RECENT : ALL;
      const want = otel ? byUuidRecent : byUuid;
      await runOnce(`
service:
  data_dir: ${tmp('data')}
  pipelines:
    logs/a: { receivers: [memsource], exporters: [googlecloudstorage] }
receivers:
  memsource: { name: ${otel ? 'gcs-recent' : 'gcs'}, batch: 700 }
exporters:
  googlecloudstorage:
${c.block.replace('ENDPOINT', endpoint)}
`);
      const got = await rehydrateInto(`g-${c.prefix}`, `gs://archive/${c.prefix}`, { gcs: { endpoint }, ...win });
      expectSameRecords(got, want);
      expect(got[0]!.location).toMatch(new RegExp(`^gs://archive/${c.prefix}[/_].+#\\d+$`));
      const store = new GcsStore({ bucket: 'archive', apiEndpoint: endpoint });
      const out = join(tmp('snap'), 'raw.jsonl');
      const res = await buildSnapshot({ store, prefix: c.prefix, layout: 'auto', startMs: Date.parse(win.start), endMs: Date.parse(win.end), format: 'raw_jsonl', out });
      expect(res.problems).toEqual([]);
      expectSameRecords(readFileSync(out, 'utf8').trim().split('\n').map((l) => ({ rrpair: JSON.parse(l) })), want);
      if (c.prefix === 'gcsotel') {
        // googlecloudstorageexporter: "<file_prefix>_<uuid>", no extension, no partitions, no manifest.
        const names = (await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).bucket('archive').getFiles({ prefix: 'gcsotel' }))[0].map((f) => f.name);
        expect(names.length).toBeGreaterThan(0);
        for (const n of names) expect(n).toMatch(/^gcsotel_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }
      expect(fake.rejected).toEqual([]);
    });
  }

  it('sets the storage class on objects (read back with the official client)', async () => {
    const bucket = new Storage({ apiEndpoint: endpoint, projectId: 'p' }).bucket('archive');
    const [native] = await bucket.getFiles({ prefix: 'native/dt=' });
    expect(native.length).toBeGreaterThan(0);
    for (const f of native.slice(0, 20)) {
      const [meta] = await f.getMetadata();
      expect(meta.storageClass).toBe('NEARLINE');
    }
    const [otel] = await bucket.getFiles({ prefix: 'otel/year=' });
    expect(otel.every((f) => f.metadata.storageClass === 'COLDLINE')).toBe(true);
    expect(fake.requests.some((r) => r.includes('uploadType=resumable'))).toBe(true);
    expect(fake.requests.some((r) => r.includes('uploadType=multipart'))).toBe(true);
  });

  it('uploads a large object in several resumable chunks, whole', async () => {
    const store = new GcsStore({ bucket: 'archive', apiEndpoint: endpoint, resumableThreshold: 1024, chunkSize: 256 * 1024 });
    const data = randomBytes(700 * 1024);
    const before = fake.requests.length;
    await store.put('big/object.bin', data);
    const puts = fake.requests.slice(before).filter((r) => r.startsWith('PUT '));
    expect(puts.length).toBeGreaterThanOrEqual(3);
    expect((await readAll(await store.get('big/object.bin'))).equals(data)).toBe(true);
    expect(fake.rejected).toEqual([]);
  });
});
