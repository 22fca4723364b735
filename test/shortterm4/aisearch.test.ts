import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory, type AzureAiSearchExporterConfig } from '../../src/exporters/azureaisearch/index.js';
import { classifySearch } from '../../src/exporters/azureaisearch/store.js';
import { keyOf } from '../../src/exporters/azureaisearch/fields.js';
import { PermanentError, RetryableError } from '../../src/core/errors.js';
import { newRecord } from '../../src/core/record.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { storeConformance } from '../support/store-conformance.js';
import { FakeAiSearch } from '../fakes/aisearch/server.js';
import { waitFor } from '../support/index.js';
import { FAST, build, chunks, docsOnly, generatedRecords, queryAll, reference, sampleRecords, sendAndDrain, expectOutageLosesNothing, type Built } from './support.js';

describe('azureaisearch exporter against the AI Search wire fake', () => {
  const fake = new FakeAiSearch('admin-key-1');
  let n = 0;

  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  async function exporter(extra: Record<string, unknown> = {}): Promise<Built<AzureAiSearchExporterConfig>> {
    return build(factory, { endpoint: fake.endpoint, api_key: 'admin-key-1', index_name: `rr${++n}`, create_index: true, retention: 0, max_retries: 0, ...FAST, ...extra });
  }

  it('creates the index from the index document (filterable/sortable/facetable), keyed by the RRPair id in base64url', async () => {
    const b = await exporter();
    try {
      const idx = fake.indexes.get(b.config.index_name)!;
      const f = (name: string) => idx.fields.get(name)!;
      expect(idx.key).toBe('key');
      expect(f('service')).toMatchObject({ type: 'Edm.String', filterable: true, sortable: true, facetable: true });
      expect(f('ts')).toMatchObject({ type: 'Edm.String', filterable: true, sortable: true, facetable: false });
      expect(f('location')).toMatchObject({ searchable: true, filterable: true });
      expect(f('res_size')).toMatchObject({ type: 'Edm.Int64', filterable: true, sortable: true });
      expect(f('archive_uri')).toMatchObject({ type: 'Edm.String' });
      expect(f('archive_uri').filterable).toBeFalsy();
      expect(idx.fields.has('rrpair')).toBe(false);
      const recs = generatedRecords(2500);
      await sendAndDrain(b, [recs]);
      const batches = fake.requests.filter((r) => r.path === `/indexes('${b.config.index_name}')/docs/search.index`);
      expect(batches.map((r) => (r.body as { value: unknown[] }).value.length)).toEqual([1000, 1000, 500]);
      const first = (batches[0]!.body as { value: Record<string, unknown>[] }).value[0]!;
      expect(first['@search.action']).toBe('mergeOrUpload');
      expect(first.key).toBe(keyOf(indexDocOf(recs[0]!).id));
    } finally {
      await b.stop();
    }
  });

  storeConformance('azureaisearch', {
    factory: factory as ExporterFactory<unknown>,
    config: (name) => ({ endpoint: fake.endpoint, api_key: 'admin-key-1', index_name: `${name}${++n}`, create_index: true, retention: 0, max_retries: 0, store_rrpair: true, ...FAST }),
    count: async (name) => fake.docs(`${name}${n}`).length,
    generated: 2500,
    batch: 700,
    pageSize: 437,
    cli: { component: 'azureaisearch/hot', yaml: (name) => `endpoint: ${fake.endpoint}\napi_key: admin-key-1\nindex_name: ${name}${n}\ncreate_index: false\nstore_rrpair: true\nretention: 0s` },
  });

  it('translates the filters to an OData $filter (exact ones in it, regexes after), quotes escaped; get() reads the stored RRPair', async () => {
    const b = await exporter({ store_rrpair: true });
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(2500);
      await sendAndDrain(b, [...chunks(samples, 40), ...chunks(gen, 700)]);
      const start = new Date('2025-06-01T23:30:00Z');
      const end = new Date('2025-06-02T01:20:00Z');
      const inWindow = (ts: string) => ts >= '2025-06-01T23:30:00.000' && ts < '2025-06-02T01:20:00.000';
      fake.requests.length = 0;
      expect(await queryAll(b.component, { service: 'orders', start, end, limit: 45 })).toEqual(reference(gen, (h) => h.doc.service === 'orders' && inWindow(h.doc.ts)));
      const search = fake.requests.find((r) => r.path.endsWith('/docs/search.post.search'))!.body as Record<string, unknown>;
      expect(search).toMatchObject({ search: '*', orderby: 'ts asc,id asc', top: 46 });
      expect(search.filter).toMatch(/^ts ge '2025-06-01T23:30:00\.000000000Z' and ts lt '2025-06-02T01:20:00\.000000000Z' and service eq 'orders'$/);
      expect(await queryAll(b.component, { status: '^500$', direction: 'IN', limit: 50 })).toEqual(reference(gen, (h) => h.doc.status === '500' && h.doc.direction === 'IN'));
      // Regexes that are not literals: rrpipe filters the documents read, past AI Search's 1,000-document pages.
      expect(await queryAll(b.component, { method: '^DEL', endpoint: '^/api/pay', limit: 30 })).toEqual(reference(gen, (h) => h.doc.command.startsWith('DEL') && h.doc.location.startsWith('/api/pay')));
      expect(await queryAll(b.component, { protocol: 'http', service: 'users' })).toEqual(reference(gen, (h) => h.doc.service === 'users'));
      expect(await queryAll(b.component, { protocol: 'grpc' })).toEqual([]);
      // A quote in a value is escaped in the $filter (the fake's parser refuses anything else).
      expect(await queryAll(b.component, { service: "o'brien", method: "^it's$" })).toEqual([]);
      const one = samples[2]!;
      expect(await b.component.get!(indexDocOf(one).id)).toEqual(one.rrpair);
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
    }
  }, 120_000);

  it('throttling (503 with Retry-After, and per-document 503 in a 207) loses nothing and duplicates nothing', async () => {
    const b = await exporter();
    try {
      const recs = generatedRecords(1200);
      fake.throttled = 0;
      fake.throttleBatches = 2;
      fake.throttleItems = 150;
      await sendAndDrain(b, chunks(recs, 600));
      expect(fake.throttled).toBe(152);
      expect(await queryAll(b.component, { limit: 5000 })).toEqual(docsOnly(recs));
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      fake.throttleBatches = 0;
      fake.throttleItems = 0;
      await b.stop();
    }
  }, 60_000);

  it('an outage (every connection cut) is retried until the service is back; nothing lost', async () => {
    const b = await exporter();
    try {
      await expectOutageLosesNothing(b, fake, 300);
    } finally {
      await b.stop();
    }
  }, 60_000);

  it('dead-letters a document over the term limit before sending it, and one over max_document_size; the rest of the batch is written', async () => {
    const b = await exporter({ store_rrpair: true, max_document_size: '64KiB' });
    try {
      const recs = generatedRecords(6);
      const longPath = newRecord({ ...structuredClone(recs[0]!.rrpair), uuid: Buffer.from('long-location-01').toString('base64'), http: { req: { method: 'GET', uri: `/x/${'a'.repeat(40_000)}` }, res: { statusCode: 200 } } });
      const big = newRecord({ ...structuredClone(recs[1]!.rrpair), uuid: Buffer.from('big-body-0000001').toString('base64'), http: { req: { method: 'POST', uri: '/up' }, res: { statusCode: 200, bodyBase64: Buffer.alloc(100_000, 1).toString('base64') } } });
      await sendAndDrain(b, [[recs[0]!, longPath, ...recs.slice(1, 3), big, ...recs.slice(3)]]);
      const dl = await b.host.deadLetters();
      expect(dl.map((d) => d.rrpair.uuid).sort()).toEqual([longPath.rrpair.uuid, big.rrpair.uuid].sort());
      expect(dl.find((d) => d.rrpair.uuid === longPath.rrpair.uuid)!.reason).toMatch(/^record too large for azure ai search: location is \d+ bytes \(AI Search's limit for a filterable or sortable string is 32766 bytes\)/);
      expect(dl.find((d) => d.rrpair.uuid === big.rrpair.uuid)!.reason).toMatch(/^record too large for azure ai search: the document \(max_document_size/);
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
    } finally {
      await b.stop();
    }
  });

  it('a document the service refuses (400 in a 207) is dead-lettered with its reason; the rest of the batch is written', async () => {
    const b = await exporter();
    try {
      // A document key over AI Search's 1,024 characters (an RRPair id of 900 bytes): refused by the service alone.
      const recs = generatedRecords(5);
      const longId = newRecord({ ...structuredClone(recs[0]!.rrpair), uuid: 'u'.repeat(900) });
      await sendAndDrain(b, [[...recs.slice(0, 2), longId, ...recs.slice(2)]]);
      const dl = await b.host.deadLetters();
      expect(dl).toHaveLength(1);
      expect(dl[0]!.rrpair.uuid).toBe(longId.rrpair.uuid);
      expect(dl[0]!.reason).toMatch(/^azure ai search refused the document \(400\): Invalid document key/);
      expect(await queryAll(b.component, {})).toEqual(docsOnly(recs));
    } finally {
      await b.stop();
    }
  });

  it('retention: the scheduled delete removes the documents whose ts is older than retention, and no other', async () => {
    const writer = await exporter();
    const old = generatedRecords(1300);
    const fresh = generatedRecords(20, { base: Date.now() - 60_000 }).map((r, i) => newRecord({ ...r.rrpair, uuid: Buffer.from(`fresh-${i}`).toString('base64') }));
    try {
      await sendAndDrain(writer, [old, fresh]);
      expect(fake.docs(writer.config.index_name)).toHaveLength(1320);
    } finally {
      await writer.stop();
    }
    fake.requests.length = 0;
    const b = await build(factory, { ...writer.config, retention: '1h', retention_interval: '1h' });
    try {
      await waitFor(() => fake.docs(writer.config.index_name).length === 20, { timeoutMs: 20_000 });
      const deletes = fake.requests.filter((r) => r.path.endsWith('/docs/search.index')).flatMap((r) => (r.body as { value: Record<string, unknown>[] }).value);
      expect(deletes.every((d) => d['@search.action'] === 'delete')).toBe(true);
      expect(deletes).toHaveLength(1300);
      expect(await queryAll(b.component, {})).toEqual(docsOnly(fresh));
    } finally {
      await b.stop();
    }
  });
});

describe('azureaisearch error classification', () => {
  it('429 and 503 are retryable with Retry-After; 400 permanent; a connection error retryable', () => {
    const headers = { get: (n: string) => (n === 'retry-after' ? '3' : undefined) };
    const t = classifySearch({ statusCode: 503, message: 'busy', response: { headers } }, 'index batch');
    expect(t).toBeInstanceOf(RetryableError);
    expect((t as RetryableError).retryAfterMs).toBe(3000);
    expect(classifySearch({ statusCode: 429, message: 'x' }, 'index batch')).toBeInstanceOf(RetryableError);
    expect(classifySearch({ statusCode: 400, message: 'bad' }, 'index batch')).toBeInstanceOf(PermanentError);
    expect(classifySearch({ code: 'ECONNREFUSED', message: 'refused' }, 'index batch')).toBeInstanceOf(RetryableError);
  });
});
