import { TimestreamWriteClient, WriteRecordsCommand } from '@aws-sdk/client-timestream-write';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory, type TimestreamExporterConfig } from '../../src/exporters/awstimestream/index.js';
import { recordOf } from '../../src/exporters/awstimestream/records.js';
import { classifyTimestream } from '../../src/exporters/awstimestream/errors.js';
import { PermanentError, RetryableError } from '../../src/core/errors.js';
import { newRecord } from '../../src/core/record.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { storeConformance } from '../support/store-conformance.js';
import { FakeTimestream } from '../fakes/timestream/server.js';
import { FAST, build, chunks, docsOnly, generatedRecords, queryAll, sampleRecords, sendAndDrain, expectOutageLosesNothing, type Built } from './support.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

describe('awstimestream exporter against the Timestream wire fake', () => {
  const ts = new FakeTimestream();
  let n = 0;

  beforeAll(() => ts.start());
  afterAll(() => ts.stop());

  async function exporter(extra: Record<string, unknown> = {}): Promise<Built<TimestreamExporterConfig>> {
    // The generated RRPairs are from 2025: a magnetic store retention that still holds them.
    return build(factory, { endpoint: ts.endpoint, region: 'us-east-1', database: 'rrpipe', table: `rr${++n}`, create_table: true, magnetic_store_retention: '3650d', max_attempts: 1, ...FAST, ...extra });
  }

  it('discovers the cell endpoint, creates the database and the table with the retention, writes multi-measure records', async () => {
    ts.calls.length = 0;
    const b = await exporter({ memory_store_retention: '12h' });
    try {
      // Only DescribeEndpoints goes to the configured endpoint; every data call to the cell it named.
      expect(ts.ops('discovery')).toEqual(['DescribeEndpoints']);
      expect(ts.ops('cell')).toEqual(['DescribeTable', 'CreateDatabase', 'CreateTable']);
      expect(ts.calls.find((c) => c.op === 'CreateTable')!.body).toEqual({
        DatabaseName: 'rrpipe', TableName: b.config.table,
        RetentionProperties: { MemoryStoreRetentionPeriodInHours: 12, MagneticStoreRetentionPeriodInDays: 3650 },
        MagneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      });
      const recs = generatedRecords(250);
      await sendAndDrain(b, [recs]);
      const writes = ts.calls.filter((c) => c.op === 'WriteRecords');
      expect(writes.map((w) => (w.body.Records as unknown[]).length)).toEqual([100, 100, 50]);
      const doc = indexDocOf(recs[5]!);
      const rec = (writes[0]!.body.Records as Record<string, unknown>[])[5]!;
      expect(rec).toMatchObject({ MeasureName: 'rrpair', MeasureValueType: 'MULTI', TimeUnit: 'NANOSECONDS', Version: 1 });
      expect(rec.Dimensions).toContainEqual({ Name: 'service', Value: doc.service, DimensionValueType: 'VARCHAR' });
      expect(rec.Dimensions).toContainEqual({ Name: 'id', Value: doc.id, DimensionValueType: 'VARCHAR' });
      expect(rec.MeasureValues).toContainEqual({ Name: 'duration', Value: String(doc.duration), Type: 'DOUBLE' });
      expect(ts.records('rrpipe', b.config.table)).toHaveLength(250);
    } finally {
      await b.stop();
    }
  });

  it('an existing table is described, not created again', async () => {
    const b = await exporter();
    await b.stop();
    ts.calls.length = 0;
    const again = await build(factory, { ...b.config, table: b.config.table });
    await again.stop();
    expect(ts.ops('cell')).toEqual(['DescribeTable']);
  });

  storeConformance('awstimestream', {
    factory: factory as ExporterFactory<unknown>,
    config: (name) => ({ endpoint: ts.endpoint, region: 'us-east-1', database: 'rrpipe', table: `${name}${++n}`, create_table: true, magnetic_store_retention: '3650d', max_attempts: 1, ...FAST }),
    count: async (name) => ts.records('rrpipe', `${name}${n}`).length,
    generated: 1500,
    batch: 300,
    pageSize: 137,
    indexOnly: true,
  });

  it('translates the filters to Timestream SQL (exact ones in the WHERE, regexes after), quotes escaped', async () => {
    const b = await exporter();
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(1500);
      await sendAndDrain(b, [...chunks(samples, 40), ...chunks(gen, 300)]);
      const start = new Date('2025-06-01T23:30:00Z');
      const end = new Date('2025-06-02T01:20:00Z');
      const inWindow = (ts: string) => ts >= '2025-06-01T23:30:00.000' && ts < '2025-06-02T01:20:00.000';
      ts.calls.length = 0;
      expect(await queryAll(b.component, { service: 'orders', start, end, limit: 45 })).toEqual(docsOnly(gen, (h) => h.doc.service === 'orders' && inWindow(h.doc.ts)));
      const sql = String(ts.calls.find((c) => c.op === 'Query')!.body.QueryString);
      expect(sql).toMatch(/^SELECT \* FROM "rrpipe"\."rr\d+" WHERE measure_name = 'rrpair' AND time >= from_nanoseconds\(\d+\) AND time < from_nanoseconds\(\d+\) AND service = 'orders' ORDER BY time ASC, id ASC LIMIT 46$/);
      expect(await queryAll(b.component, { status: '^500$', direction: 'IN', limit: 50 })).toEqual(docsOnly(gen, (h) => h.doc.status === '500' && h.doc.direction === 'IN'));
      // A regex that is not a literal is applied by rrpipe to the rows read (no LIMIT in the SQL then).
      ts.calls.length = 0;
      expect(await queryAll(b.component, { method: '^DEL', endpoint: '^/api/pay', limit: 30 })).toEqual(docsOnly(gen, (h) => h.doc.command.startsWith('DEL') && h.doc.location.startsWith('/api/pay')));
      expect(String(ts.calls.find((c) => c.op === 'Query')!.body.QueryString)).not.toMatch(/LIMIT|command|location/);
      expect(await queryAll(b.component, { protocol: 'http', service: 'payments' })).toEqual(docsOnly(gen, (h) => h.doc.service === 'payments'));
      expect(await queryAll(b.component, { protocol: 'grpc' })).toEqual([]);
      // A quote in a value is escaped in the SQL (the fake's parser refuses anything else).
      expect(await queryAll(b.component, { service: "o'brien", method: "^it's$" })).toEqual([]);
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
    }
  }, 120_000);

  it('throttling (ThrottlingException) loses nothing and duplicates nothing', async () => {
    const b = await exporter();
    try {
      const recs = generatedRecords(400);
      ts.throttled = 0;
      ts.throttleWrites = 3;
      await sendAndDrain(b, chunks(recs, 200));
      expect(ts.throttled).toBe(3);
      expect(await queryAll(b.component, { limit: 500 })).toEqual(docsOnly(recs));
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      ts.throttleWrites = 0;
      await b.stop();
    }
  }, 60_000);

  it('an outage (every connection to the cell cut) is retried until Timestream is back; nothing lost', async () => {
    const b = await exporter();
    try {
      await expectOutageLosesNothing(b, ts, 250);
    } finally {
      await b.stop();
    }
  }, 60_000);

  it('dead-letters a record over 2 KB before sending it, and one Timestream rejects with its reason; the rest is written', async () => {
    // Without magnetic store writes Timestream refuses records older than the memory store retention.
    const b = await exporter({ magnetic_store_writes: false });
    try {
      const old = generatedRecords(3);
      const fresh = generatedRecords(5, { base: Date.now() - 3_600_000 });
      const long = newRecord({ ...structuredClone(fresh[0]!.rrpair), uuid: Buffer.from('long-location-01').toString('base64'), http: { req: { method: 'GET', uri: `/x/${'a'.repeat(2100)}` }, res: { statusCode: 200 } } });
      await sendAndDrain(b, [[fresh[0]!, old[0]!, long, ...fresh.slice(1), old[1]!, old[2]!]]);
      const dl = await b.host.deadLetters();
      expect(dl.map((d) => d.rrpair.uuid).sort()).toEqual([long, ...old].map((r) => r.rrpair.uuid).sort());
      expect(dl.find((d) => d.rrpair.uuid === long.rrpair.uuid)!.reason).toMatch(/^record too large for timestream: location is \d+ bytes \(Timestream's limit for a value is 2048 bytes\)/);
      expect(dl.find((d) => d.rrpair.uuid === old[0]!.rrpair.uuid)!.reason).toMatch(/^timestream rejected the record: The record timestamp is outside the time range/);
      expect(await queryAll(b.component, {})).toEqual(docsOnly(fresh));
    } finally {
      await b.stop();
    }
  });

  it('a record Timestream already holds in a newer version (a version conflict) counts as written, not dead-lettered', async () => {
    const b = await exporter();
    const client = new TimestreamWriteClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${ts.cellPort}` });
    try {
      const recs = generatedRecords(4);
      const newer = { ...recordOf(indexDocOf(recs[1]!)).record, Version: 2, MeasureValues: [{ Name: 'duration', Value: '9999', Type: 'DOUBLE' as const }] };
      await client.send(new WriteRecordsCommand({ DatabaseName: 'rrpipe', TableName: b.config.table, Records: [newer] }));
      await sendAndDrain(b, [recs]);
      expect(await b.host.deadLetters()).toEqual([]);
      const got = await queryAll(b.component, {});
      expect(got.map((h) => h.doc.id)).toEqual(docsOnly(recs).map((h) => h.doc.id));
      expect(got[1]!.doc.duration).toBe(9999);
    } finally {
      client.destroy();
      await b.stop();
    }
  });
});

describe('awstimestream error classification', () => {
  it('ThrottlingException is retryable with the SDK\'s hint; ValidationException permanent; a connection error retryable', () => {
    const t = classifyTimestream({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }, 'WriteRecords');
    expect(t).toBeInstanceOf(RetryableError);
    expect((t as RetryableError).retryAfterMs).toBe(500);
    expect(classifyTimestream({ name: 'ValidationException', message: 'x', $metadata: { httpStatusCode: 400 } }, 'WriteRecords')).toBeInstanceOf(PermanentError);
    expect(classifyTimestream({ name: 'TimeoutError', message: 'socket hang up' }, 'WriteRecords')).toBeInstanceOf(RetryableError);
  });
});
