import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory, keysOf, type RedisExporterConfig } from '../../src/exporters/redis/index.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import { missing, startRedis, type RedisServer } from '../support/index.js';
import {
  build, chunks, FlakyProxy, generatedRecords, hugeRecord, queryAll, reference, sampleRecords, sendAndDrain, type Built,
} from './support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '20s' },
  timeout: '5s',
};

describe.skipIf(missing('redis-server', 'apt-get install redis-server'))('redis exporter against redis-server', () => {
  let server: RedisServer | undefined;
  let port = 0;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedis({ args: ['--appendonly', 'no', '--proto-max-bulk-len', '1mb', '--requirepass', 's3cret'] });
    port = server.port;
    admin = new Redis({ port, host: '127.0.0.1', password: 's3cret', lazyConnect: true });
    await admin.connect();
  }, 30_000);

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  async function exporter(extra: Record<string, unknown> = {}, p = port): Promise<Built<RedisExporterConfig>> {
    return build(factory, { endpoint: `127.0.0.1:${p}`, password: 's3cret', ...fast, ...extra });
  }

  it('writes the samples and generated RRPairs and reads back exactly the reference through query()', async () => {
    const prefix = 'eq:';
    const b = await exporter({ key_prefix: prefix });
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(600);
      // Every record twice (a replayed batch): still one hit each.
      await sendAndDrain(b, [...chunks(samples, 50), ...chunks(gen, 100), gen.slice(0, 100)]);
      const all = await queryAll(b.component, { limit: 37 });
      expect(all).toEqual(reference([...samples, ...gen]));

      // service + time range: uses the per-day service sets, across midnight
      const start = new Date('2025-06-01T23:30:00Z');
      const end = new Date('2025-06-02T00:20:00Z');
      const got = await queryAll(b.component, { service: 'orders', start, end, limit: 25 });
      const want = reference(gen, (h) => h.doc.service === 'orders' && h.doc.ts >= '2025-06-01T23:30:00.000' && h.doc.ts < '2025-06-02T00:20:00.000');
      expect(want.length).toBeGreaterThan(50);
      expect(got).toEqual(want);

      // exact command/status (per-day sets) and regex filters
      expect(await queryAll(b.component, { method: '^DELETE$', status: '^500$' })).toEqual(reference(gen, (h) => h.doc.command === 'DELETE' && h.doc.status === '500'));
      expect(await queryAll(b.component, { endpoint: '^/api/pay', direction: 'IN', status: '^2' })).toEqual(
        reference(gen, (h) => h.doc.location.startsWith('/api/pay') && h.doc.direction === 'IN' && h.doc.status.startsWith('2')),
      );
      expect(await queryAll(b.component, { cluster: 'c1', namespace: 'samples' })).toEqual(reference(samples));

      // get() by id returns the full RRPair
      const one = samples[0]!;
      expect(await b.component.get!(indexDocOf(one).id)).toEqual(one.rrpair);
      expect(await b.component.get!('no-such-id')).toBeUndefined();
    } finally {
      await b.stop();
    }
  }, 60_000);

  it('puts a TTL on every record and index key, and index keys expire no earlier than their data', async () => {
    const prefix = 'ttl:';
    const b = await exporter({ key_prefix: prefix, ttl: '3d' });
    try {
      const recs = generatedRecords(40);
      await sendAndDrain(b, [recs]);
      const keys = await admin.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(40);
      const k = keysOf(prefix, indexDocOf(recs[0]!));
      const recTtl = await admin.pttl(k.record);
      expect(recTtl).toBeGreaterThan(3 * 86_400_000 - 60_000);
      expect(recTtl).toBeLessThanOrEqual(3 * 86_400_000);
      for (const key of keys) {
        const t = await admin.pttl(key);
        expect(t, key).toBeGreaterThan(0);
        expect(t, key).toBeGreaterThanOrEqual(recTtl - 1000);
      }
      for (const s of k.sets) expect(await admin.zscore(s, indexDocOf(recs[0]!).id)).not.toBeNull();
    } finally {
      await b.stop();
    }
  });

  it('a connection dropped mid-batch loses nothing and duplicates nothing', async () => {
    const prefix = 'drop:';
    const proxy = new FlakyProxy(port);
    await proxy.start();
    const b = await exporter({ key_prefix: prefix }, proxy.port);
    try {
      const recs = generatedRecords(300);
      proxy.dropAfter(60_000); // well inside the first batch's writes
      await sendAndDrain(b, chunks(recs, 150));
      expect(proxy.drops).toBe(1);
      const all = await queryAll(b.component, { limit: 1000 });
      expect(all).toEqual(reference(recs));
      expect(await admin.zcard(`${prefix}ix:2025-06-01:all`) + await admin.zcard(`${prefix}ix:2025-06-02:all`)).toBe(300);
      expect((await b.host.deadLetters())).toEqual([]);
    } finally {
      await b.stop();
      await proxy.stop();
    }
  }, 60_000);

  it('a refusing server (OOM: maxmemory reached) is retried until it accepts; nothing lost', async () => {
    const prefix = 'oom:';
    const b = await exporter({ key_prefix: prefix });
    try {
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', String(used - 100_000 > 0 ? Math.max(1, used - 100_000) : 1));
      const recs = generatedRecords(120);
      const done = sendAndDrain(b, [recs]);
      await new Promise((r) => setTimeout(r, 400));
      expect(await admin.exists(keysOf(prefix, indexDocOf(recs[5]!)).record)).toBe(0);
      await admin.config('SET', 'maxmemory', '0');
      await done;
      expect(await queryAll(b.component, { limit: 500 })).toEqual(reference(recs));
      expect((await b.host.deadLetters())).toEqual([]);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await b.stop();
    }
  }, 60_000);

  it('dead-letters a record over the server\'s proto-max-bulk-len with a clear reason, and writes the rest', async () => {
    const prefix = 'big:';
    const b = await exporter({ key_prefix: prefix });
    try {
      const recs = generatedRecords(5);
      const huge = hugeRecord(2 * 1024 * 1024);
      await sendAndDrain(b, [[recs[0]!, huge, ...recs.slice(1)]]);
      const dl = await b.host.deadLetters();
      expect(dl).toHaveLength(1);
      expect(dl[0]!.reason).toMatch(/record too large for redis: .* is \d+ bytes, the limit is 1048576 bytes/);
      expect(dl[0]!.reason).toContain('proto-max-bulk-len');
      expect(dl[0]!.rrpair.uuid).toBe(huge.rrpair.uuid);
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
    } finally {
      await b.stop();
    }
  });

  it('refuses a wrong password at start with the server\'s message', async () => {
    await expect(build(factory, { endpoint: `127.0.0.1:${port}`, password: 'wrong', ...fast })).rejects.toThrow(/WRONGPASS|invalid password/i);
  });
});
