import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory, type DynamoDbExporterConfig } from '../../src/exporters/awsdynamodb/index.js';
import { classifyDynamo, retryHintMs } from '../../src/exporters/awsdynamodb/store.js';
import { hourOf, itemOf, shardOf } from '../../src/exporters/awsdynamodb/table.js';
import { PermanentError, RetryableError } from '../../src/core/errors.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { DynamoProxy, startDynalite, type Dynalite } from '../support/index.js';
import { storeConformance } from '../support/store-conformance.js';
import { build, chunks, generatedRecords, hugeRecord, queryAll, reference, sendAndDrain, type Built } from './support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '30s' },
  timeout: '5s',
  max_attempts: 1,
};

describe('awsdynamodb exporter against dynalite', () => {
  let db: Dynalite;
  let proxy: DynamoProxy;
  let admin: DynamoDBClient;
  let n = 0;

  beforeAll(async () => {
    db = await startDynalite();
    proxy = new DynamoProxy(db.port);
    await proxy.start();
    admin = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  });

  afterAll(async () => {
    admin?.destroy();
    await proxy?.stop();
    await db?.stop();
  });

  async function exporter(extra: Record<string, unknown> = {}): Promise<Built<DynamoDbExporterConfig>> {
    return build(factory, { endpoint: proxy.endpoint, region: 'us-east-1', table_name: `rr${++n}`, create_table: true, ...fast, ...extra });
  }

  async function count(table: string): Promise<number> {
    let total = 0;
    let start: Record<string, never> | undefined;
    do {
      const r = await admin.send(new ScanCommand({ TableName: table, Select: 'COUNT', FilterExpression: 'attribute_exists(#d)', ExpressionAttributeNames: { '#d': 'doc' }, ...(start ? { ExclusiveStartKey: start } : {}) }));
      total += r.Count ?? 0;
      start = r.LastEvaluatedKey as typeof start;
    } while (start);
    return total;
  }

  it('creates the table with its key and GSIs, sets the TTL attribute on every item and calls UpdateTimeToLive', async () => {
    proxy.calls.length = 0;
    const b = await exporter({ ttl: '3d' });
    try {
      const d = await admin.send(new DescribeTableCommand({ TableName: b.config.table_name }));
      expect(d.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
      expect(d.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(['by_id', 'by_status', 'by_time']);
      expect(d.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      // dynalite does not implement UpdateTimeToLive (it answers UnknownOperationException): the call is what is checked.
      const ttlCall = proxy.calls.find((c) => c.target === 'UpdateTimeToLive');
      expect(ttlCall?.body).toEqual({ TableName: b.config.table_name, TimeToLiveSpecification: { Enabled: true, AttributeName: 'expires_at' } });
      expect(proxy.targets().indexOf('CreateTable')).toBeLessThan(proxy.targets().indexOf('UpdateTimeToLive'));
      const recs = generatedRecords(30);
      const before = Date.now() / 1000;
      await sendAndDrain(b, [recs]);
      const scan = await admin.send(new ScanCommand({ TableName: b.config.table_name }));
      expect(scan.Items!.length).toBe(30 + new Set(recs.map((r) => hourOf(indexDocOf(r).ts))).size);
      for (const it of scan.Items!) {
        const exp = Number(it.expires_at?.N);
        expect(exp).toBeGreaterThanOrEqual(Math.floor(before + 3 * 86_400) - 1);
        expect(exp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000 + 3 * 86_400));
      }
      // The key design, on one item: service#hour / ts#id, by_time shard, by_status key.
      const doc = indexDocOf(recs[3]!);
      const item = scan.Items!.find((i) => i.id?.S === doc.id)!;
      expect(item.pk?.S).toBe(`${doc.service}#${doc.ts.slice(0, 13)}`);
      expect(item.sk?.S).toBe(`${doc.ts}#${doc.id}`);
      expect(item.tpk?.S).toBe(`${doc.ts.slice(0, 13)}#${shardOf(doc.id, 4)}`);
      expect(item.spk?.S).toBe(`${doc.status}#${doc.ts.slice(0, 13)}`);
    } finally {
      await b.stop();
    }
  });

  it('does not call UpdateTimeToLive when TTL is already on, nor when configure_ttl is off', async () => {
    proxy.calls.length = 0;
    const b = await exporter({ configure_ttl: false });
    await b.stop();
    expect(proxy.targets()).not.toContain('UpdateTimeToLive');
    expect(proxy.targets()).not.toContain('DescribeTimeToLive');
  });

  storeConformance('awsdynamodb', {
    factory: factory as ExporterFactory<unknown>,
    config: (name) => ({ endpoint: proxy.endpoint, region: 'us-east-1', table_name: `${name}${++n}`, create_table: true, ...fast }),
    count: (name) => count(`${name}${n}`),
    generated: 1_500,
    batch: 300,
    pageSize: 137,
    oversize: { bytes: 500 * 1024, reason: /^record too large for dynamodb: the item \(max_item_size; DynamoDB's limit is 400 KB\) is \d+ bytes, the limit is 409600 bytes$/ },
    cli: { component: 'awsdynamodb/hot', yaml: (name) => `endpoint: ${proxy.endpoint}\nregion: us-east-1\ntable_name: ${name}${n}\ncreate_table: false`, env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } },
  });

  it('throttling (whole requests and UnprocessedItems) loses nothing and duplicates nothing', async () => {
    const b = await exporter();
    try {
      const recs = generatedRecords(400);
      proxy.throttled = 0;
      proxy.unprocessed = 0;
      proxy.throttleWrites = 3;
      proxy.halfProcessWrites = 12;
      await sendAndDrain(b, chunks(recs, 200));
      expect(proxy.throttled).toBe(3);
      expect(proxy.unprocessed).toBeGreaterThan(0);
      expect(await queryAll(b.component, { limit: 500 })).toEqual(reference(recs));
      expect(await count(b.config.table_name)).toBe(400);
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      proxy.throttleWrites = 0;
      proxy.halfProcessWrites = 0;
      await b.stop();
    }
  }, 60_000);

  it('an outage (every connection cut) is retried until DynamoDB is back; nothing lost', async () => {
    const b = await exporter();
    try {
      const recs = generatedRecords(250);
      proxy.cut = 0;
      proxy.down = true;
      const done = sendAndDrain(b, [recs]);
      await new Promise((r) => setTimeout(r, 600));
      expect(proxy.cut).toBeGreaterThan(0);
      proxy.down = false;
      await done;
      expect(await queryAll(b.component, { limit: 1000 })).toEqual(reference(recs));
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      proxy.down = false;
      await b.stop();
    }
  }, 60_000);

  it('an item DynamoDB itself refuses (over its 400 KB count) is isolated and dead-lettered, not its batch', async () => {
    // max_item_size above the real limit: DynamoDB's ValidationException is what refuses it.
    const b = await exporter({ max_item_size: '1MiB' });
    try {
      const recs = generatedRecords(30);
      const huge = hugeRecord(450 * 1024);
      await sendAndDrain(b, [[...recs.slice(0, 10), huge, ...recs.slice(10)]]);
      const dl = await b.host.deadLetters();
      expect(dl).toHaveLength(1);
      expect(dl[0]!.reason).toMatch(/ValidationException/);
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
    } finally {
      await b.stop();
    }
  });
});

describe('awsdynamodb error classification', () => {
  it('throttling is retryable with the SDK\'s hint; validation is permanent; no status (connection) is retryable', () => {
    const throttle = classifyDynamo({ name: 'ProvisionedThroughputExceededException', message: 'x', $retryable: { throttling: true }, $metadata: { httpStatusCode: 400 } }, 'BatchWriteItem');
    expect(throttle).toBeInstanceOf(RetryableError);
    expect((throttle as RetryableError).retryAfterMs).toBe(500);
    expect(retryHintMs({ name: 'ThrottlingException', $response: { headers: { 'x-amz-retry-after': '1500' } } })).toBe(1500);
    expect(retryHintMs({ name: 'X', $response: { headers: { 'Retry-After': '2' } } })).toBe(2000);
    expect(classifyDynamo({ name: 'ValidationException', message: 'Item size has exceeded the maximum allowed size', $metadata: { httpStatusCode: 400 } }, 'BatchWriteItem')).toBeInstanceOf(PermanentError);
    expect(classifyDynamo({ name: 'TimeoutError', message: 'socket hang up' }, 'BatchWriteItem')).toBeInstanceOf(RetryableError);
    expect(classifyDynamo({ name: 'ResourceNotFoundException', message: 'no table', $metadata: { httpStatusCode: 400 } }, 'BatchWriteItem')).toBeInstanceOf(RetryableError);
  });

  it('the item of a record is keyed by service#hour and ts#id, the same for a replay', () => {
    const r = generatedRecords(1)[0]!;
    const a = itemOf(indexDocOf(r), { shards: 4, ttlAttribute: 'expires_at', expiresAt: 1 });
    const b = itemOf(indexDocOf(structuredClone(r)), { shards: 4, ttlAttribute: 'expires_at', expiresAt: 2 });
    expect([a.pk, a.sk]).toEqual([b.pk, b.sk]);
  });
});
