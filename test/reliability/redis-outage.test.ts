import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, requireBuild, sleep, startRedis, tmpDir, waitFor, type RedisServer } from '../support/index.js';
import { Daemon, Feeder, PLUGIN, uuidOf } from './harness.js';

/*
 * The backend outage of issue 8 against a real redis-server: rrpipe as a child process
 * (httpingest → memory_limiter → batch → the real `redis` exporter with a persistent queue), fed
 * numbered RRPairs by a sender that resends until acknowledged. redis-server is killed with
 * SIGKILL under load, stays down until the queue is full and the sender is refused, and is restarted on the same port
 * with the same data directory (AOF, fsync on every write, so what it acknowledged survives).
 * Afterwards every acknowledged record is in redis exactly once by id.
 */

const PREFIX = 'rrpipe:';
const QUEUE_SIZE = 400;

function config(dir: string, redisPort: number): string {
  return `plugins: [${JSON.stringify(PLUGIN)}]
extensions:
  file_storage:
    directory: ${JSON.stringify(join(dir, 'queue'))}
    fsync: write
    max_size: 256MiB
receivers:
  httpingest:
    endpoint: 127.0.0.1:0
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: 400
    spike_limit_mib: 100
  batch:
    timeout: 20ms
    send_batch_size: 50
exporters:
  redis:
    endpoint: 127.0.0.1:${redisPort}
    key_prefix: ${JSON.stringify(PREFIX)}
    connect_timeout: 1s
    timeout: 2s
    sending_queue:
      storage: file_storage
      num_consumers: 2
      queue_size: ${QUEUE_SIZE}
      sizer: items
      block_on_overflow: false
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0
    dead_letter:
      path: ${JSON.stringify(join(dir, 'dead_letter'))}
service:
  extensions: [file_storage]
  data_dir: ${JSON.stringify(join(dir, 'data'))}
  grace_period: 5s
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:0 }
  pipelines:
    logs:
      receivers: [httpingest]
      processors: [memory_limiter, batch]
      exporters: [redis]
`;
}

describe.skipIf(missing('redis-server', 'apt-get install redis-server'))('redis-server down under load', () => {
  const t = tmpDir('rrpipe-rel-');
  let redisPort = 0;
  let redis: RedisServer | undefined;
  let daemon: Daemon | undefined;
  let client: Redis | undefined;

  /** redis-server with an fsync'ed append-only file in t.dir, on the same port each time. */
  const restartRedis = async () => {
    redis = await startRedis({ port: redisPort || undefined, dir: t.dir, args: ['--appendonly', 'yes', '--appendfsync', 'always', '--appenddirname', 'aof'] });
    redisPort = redis.port;
  };

  beforeAll(async () => {
    requireBuild();
    await restartRedis();
  }, 120_000);

  afterAll(async () => {
    client?.disconnect();
    if (daemon?.running) await daemon.kill9();
    await redis?.stop();
    t.cleanup();
  });

  /** Every record id in the day index sets, and how many `rr:` record keys there are. */
  async function stored(c: Redis): Promise<{ ids: string[]; recordKeys: number }> {
    const ids: string[] = [];
    for (const key of await scan(c, `${PREFIX}ix:*:all`)) ids.push(...(await c.zrange(key, 0, -1)));
    return { ids, recordKeys: (await scan(c, `${PREFIX}rr:*`)).length };
  }

  async function scan(c: Redis, match: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return out;
  }

  it('the sender sees backpressure, the queue is bounded, memory stays under the limiter, and every acknowledged record is in redis once', async () => {
    daemon = new Daemon(Daemon.write(t.dir, config(t.dir, redisPort)));
    await daemon.start();
    const d = daemon;
    const queued = async () => (await d.metrics()).sum('rrpipe_queue_size', { component: 'redis' });

    const feeder = new Feeder(() => (d.running ? d.ingestPort : 0), 20, 5);
    feeder.start();
    await waitFor(() => feeder.acked.size >= 300, { timeoutMs: 15_000, what: 'a steady stream before the outage' });

    // The outage: SIGKILL, so redis has no chance to flush anything it had not already made durable.
    // It lasts until the queue is full and the sender has been refused, however long that takes.
    const exited = new Promise((r) => redis!.child.once('exit', r));
    redis!.child.kill('SIGKILL');
    await exited;
    const ackedAtKill = feeder.acked.size;
    const backpressureAtKill = feeder.backpressure;
    let maxQueued = 0;
    await waitFor(async () => {
      maxQueued = Math.max(maxQueued, await queued());
      return feeder.backpressure > backpressureAtKill;
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'the sender refused during the outage' });
    const m = await d.metrics();
    // The queue grew during the outage, up to its bound and no further...
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_SIZE);
    // ...and then the sender was refused (503) instead of anything being dropped.
    expect(feeder.backpressure).toBeGreaterThan(backpressureAtKill);
    expect(m.sum('rrpipe_records_refused_total', { component: 'httpingest' })).toBeGreaterThan(0);
    // The exporter saw the failures and kept retrying.
    expect(m.sum('rrpipe_records_failed_total', { component: 'redis' })).toBeGreaterThan(0);
    expect(m.sum('rrpipe_records_dropped_total', { component: 'redis' })).toBe(0);
    // Memory stays under the limiter's soft bound (limit_mib - spike_limit_mib = 300 MiB).
    expect(m.sum('nodejs_heap_size_used_bytes') + m.sum('nodejs_external_memory_bytes')).toBeLessThan(300 * 1024 * 1024);
    // Some records were still acknowledged (until the queue was full), none beyond its bound.
    expect(feeder.acked.size - ackedAtKill).toBeLessThanOrEqual(QUEUE_SIZE + 100);
    expect(d.running).toBe(true);

    // redis comes back on the same port with the same data directory.
    await restartRedis();
    await sleep(2_000);
    await feeder.stop();
    const sentUpTo = feeder.next + 20; // a batch in flight when the feeder stopped may have been accepted

    client = new Redis({ host: '127.0.0.1', port: redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const c = client;
    const missingAcked = async () => {
      const acked = [...feeder.acked];
      const res = await c.pipeline(acked.map((n) => ['exists', `${PREFIX}rr:${uuidOf(n)}`])).exec();
      return acked.filter((_, i) => res![i]![1] !== 1);
    };
    let missing: number[] = [];
    await waitFor(async () => (missing = await missingAcked()).length === 0, { timeoutMs: 30_000, what: 'every acknowledged record in redis' }).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing.length} missing, e.g. ${missing.slice(0, 10).join(',')}`);
    });
    await waitFor(async () => (await queued()) === 0, { timeoutMs: 15_000, what: 'an empty queue' });

    // Exactly once by id: one record key and one index entry per id, and only ids the sender sent.
    const { ids, recordKeys } = await stored(c);
    const distinct = new Set(ids);
    expect(distinct.size).toBe(ids.length);
    expect(recordKeys).toBe(distinct.size);
    const sent = new Set(Array.from({ length: sentUpTo }, (_, n) => uuidOf(n)));
    expect(ids.filter((id) => !sent.has(id))).toEqual([]);
    for (const n of feeder.acked) expect(distinct.has(uuidOf(n))).toBe(true);
    const doc = JSON.parse((await c.hget(`${PREFIX}rr:${uuidOf(0)}`, 'd'))!) as { id: string };
    expect(doc.id).toBe(uuidOf(0));

    // The loss equation holds, with nothing dropped or dead-lettered.
    const eq = (await d.metrics()).lossEquation('redis');
    expect(eq.left, JSON.stringify(eq.parts)).toBe(eq.right);
    expect(eq.parts.dropped + eq.parts.dead_lettered).toBe(0);
    expect(eq.parts.sent).toBeGreaterThanOrEqual(feeder.acked.size);
    console.log(`redis outage: ${feeder.acked.size} acknowledged (${ids.length} stored), ${feeder.backpressure} refusals seen by the sender, queue peaked at ${maxQueued}, ${JSON.stringify(eq.parts)}`);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  }, 150_000);
});
