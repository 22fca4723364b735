import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError, ShutdownError } from '../../src/core/errors.js';
import { threadMemory } from '../../src/core/thread-memory.js';
import { InOrder } from '../../src/helpers/worker-pool-order.js';
import { isolateFailures, WorkerPool } from '../../src/helpers/worker-pool.js';
import { requireBuild, tmpDir } from '../support/index.js';

const FIXTURE = pathToFileURL(join(import.meta.dirname, 'worker-pool-fixture.mjs'));
type Echo = { id: number; tag: string; thread: number };

let pools: WorkerPool[] = [];
function pool(size: number, factory = 'echo'): WorkerPool {
  const p = new WorkerPool({ module: FIXTURE, factory, init: { tag: 'init-reached-the-worker' }, size, name: 'test' });
  pools.push(p);
  return p;
}

beforeAll(() => requireBuild()); // the worker entry runs from dist/
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

describe('WorkerPool', () => {
  it('runs batches on every worker with the module built from init', async () => {
    const p = pool(2);
    await p.start();
    const results = await Promise.all([1, 2, 3, 4].map((id) => p.run<Echo>({ id, spinMs: 30 })));
    expect(results.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(results.every((r) => r.tag === 'init-reached-the-worker')).toBe(true);
    expect(new Set(results.map((r) => r.thread)).size).toBe(2);
  });

  it('fails at start when the module cannot build its batch function', async () => {
    await expect(pool(1, 'broken').start()).rejects.toThrow(/could not load its module: this batch module cannot start/);
    await expect(pool(1, 'missing').start()).rejects.toThrow(/has no export missing/);
  });

  it('a batch that throws fails retryably and the worker keeps serving', async () => {
    const p = pool(1);
    await p.start();
    const err = await p.run({ id: 1, fail: 'bad batch' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/bad batch/);
    expect((await p.run<Echo>({ id: 2 })).id).toBe(2);
    expect(p.crashes).toBe(0);
  });

  it('a worker crash mid-batch fails that batch retryably; the worker is replaced and the retry succeeds', async () => {
    const t = tmpDir();
    try {
      const p = pool(1);
      await p.start();
      const before = p.threads[0]!.threadId;
      const batch = { id: 7, crashOnce: join(t.dir, 'crashed') };
      const err = await p.run(batch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableError);
      expect((err as Error).message).toMatch(/exited with code 3/);
      expect(p.crashes).toBe(1);
      const retried = await p.run<Echo>(batch);
      expect(retried.id).toBe(7);
      expect(retried.thread).not.toBe(before);
    } finally {
      t.cleanup();
    }
  });

  it('close drains the batches in flight, then refuses new ones', async () => {
    const p = pool(2);
    await p.start();
    const inFlight = [1, 2, 3].map((id) => p.run<Echo>({ id, spinMs: 50 }));
    const closed = p.close();
    await expect(p.run({ id: 4 })).rejects.toBeInstanceOf(ShutdownError);
    await closed;
    expect((await Promise.all(inFlight)).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(p.threads).toEqual([]);
  });
});

describe('WorkerPool heap reports (what memory_limiter counts of the workers)', () => {
  const MiB = 1024 * 1024;
  const ours = () => threadMemory.threads().filter((t) => t.name.startsWith('test-'));

  it('each worker reports its heap once started and after every batch; a worker that stops is forgotten', async () => {
    const p = pool(2);
    await p.start();
    expect(ours().map((t) => t.name).sort()).toEqual(['test-0', 'test-1']);
    for (const t of ours()) expect(t.heapLimit).toBeGreaterThan(t.heapUsed);
    const before = threadMemory.used();
    // one batch keeps 48 MiB on whichever worker runs it
    const { thread } = await p.run<Echo>({ id: 1, retainMb: 48 });
    const grown = threadMemory.used() - before;
    expect(grown).toBeGreaterThan(40 * MiB);
    const fat = p.threads.findIndex((w) => w.threadId === thread);
    expect(ours().find((t) => t.name === `test-${fat}`)!.heapUsed).toBeGreaterThan(48 * MiB);

    // a crash forgets that worker's heap; its replacement reports its own
    const t = tmpDir();
    try {
      await p.run({ id: 2, crashOnce: join(t.dir, 'crashed'), spinMs: 1 }).catch(() => undefined);
    } finally {
      t.cleanup();
    }
    expect(p.crashes).toBe(1);
    expect(ours()).toHaveLength(1);
    await p.close();
    expect(ours()).toEqual([]);
  });
});

describe('isolateFailures: a batch a worker failed, run again alone and in halves', () => {
  type Item = { n: number; poison?: boolean };
  type Answer = { n: number; thread?: number; gaveUp?: string };
  const how = (p: WorkerPool) => ({
    runAlone: (items: Item[]) => p.runAlone<Answer[]>({ items }),
    giveUp: (it: Item, err: Error): Answer => ({ n: it.n, gaveUp: err.message }),
    probe: () => p.runAlone<Answer[]>({ items: [{ n: -1 }] }),
  });

  it('gives up only the item that kills a worker by itself; every other item is answered, each try in a worker of its own', async () => {
    const p = pool(1);
    await p.start();
    const items: Item[] = Array.from({ length: 16 }, (_, n) => ({ n, ...(n === 11 ? { poison: true } : {}) }));
    const shared = await p.run({ items }).catch((e: unknown) => e);
    expect(shared).toBeInstanceOf(RetryableError);
    const poolThread = p.threads[0]?.threadId;
    const answers = await isolateFailures(items, how(p));
    expect(answers.map((a) => a.n)).toEqual(items.map((it) => it.n));
    expect(answers.filter((a) => a.gaveUp).map((a) => a.n)).toEqual([11]);
    expect(answers.find((a) => a.gaveUp)!.gaveUp).toMatch(/exited with code 4/);
    // 16 → 8 → 4 → 2 → 1: the poisoned half fails at each level (5 tries), and the item alone;
    // the half without it had succeeded, so no probe was needed
    expect(p.crashes).toBe(1 + 5);
    // the other answers came from workers of their own, not from the pool's worker
    expect(answers.filter((a) => !a.gaveUp).every((a) => a.thread !== undefined && a.thread !== poolThread)).toBe(true);
    expect(threadMemory.threads().filter((t) => t.name === 'test-alone')).toEqual([]);
  });

  it('a batch that failed only because it shared a worker with a poisoned one is answered whole on its first try alone', async () => {
    const p = pool(1);
    await p.start();
    const innocent: Item[] = [{ n: 1 }, { n: 2 }, { n: 3 }];
    // both batches queue on the one worker; the poisoned one kills it and the innocent one with it
    const [a, b] = await Promise.all([p.run({ items: [{ n: 0, poison: true }] }).catch((e: unknown) => e), p.run({ items: innocent }).catch((e: unknown) => e)]);
    expect(a).toBeInstanceOf(RetryableError);
    expect(b).toBeInstanceOf(RetryableError);
    const crashes = p.crashes;
    expect(await isolateFailures(innocent, how(p))).toEqual(innocent.map((it) => ({ n: it.n, thread: expect.any(Number) })));
    expect(p.crashes).toBe(crashes);
  });

  it('a lone poisoned item is given up only once a probe shows the workers work', async () => {
    const p = pool(1);
    await p.start();
    let probes = 0;
    const answers = await isolateFailures([{ n: 5, poison: true }], { ...how(p), probe: () => (probes++, how(p).probe()) });
    expect(answers).toEqual([{ n: 5, gaveUp: expect.stringMatching(/exited with code 4/) }]);
    expect(probes).toBe(1);
  });

  it('workers that fail whatever they get (a module that cannot load) refuse the batch whole: nothing given up', async () => {
    const p = new WorkerPool({ module: FIXTURE, factory: 'broken', init: {}, size: 1, name: 'test' });
    pools.push(p);
    const items: Item[] = [{ n: 1 }, { n: 2 }, { n: 3 }];
    const err = await isolateFailures(items, how(p)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/this batch module cannot start/);
  });

  it('stops at shutdown: the batch is refused whole (ShutdownError), nothing given up', async () => {
    const p = pool(1);
    await p.start();
    await p.close();
    await expect(isolateFailures([{ n: 1 }], how(p))).rejects.toBeInstanceOf(ShutdownError);
  });
});

describe('InOrder over a pool of 2 with uneven batch costs', () => {
  it('delivers in submission order', async () => {
    const p = pool(2);
    await p.start();
    const order = new InOrder();
    const delivered: number[] = [];
    // The first batch is slow: the fast ones behind it finish first on the other worker.
    const costs = [150, 0, 0, 60, 0, 0];
    await Promise.all(costs.map((spinMs, id) => order.run(p.run<Echo>({ id, spinMs }), async (r) => {
      delivered.push(r.id);
    })));
    expect(delivered).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a failed batch does not hold back the ones behind it, and a rejected delivery reaches only its caller', async () => {
    const order = new InOrder();
    const delivered: string[] = [];
    const failed = order.run(Promise.reject(new RetryableError('worker died')), async () => { delivered.push('never'); });
    const refused = order.run(Promise.resolve('b'), async (r) => { throw new RetryableError(`downstream refused ${r}`); });
    const fine = order.run(Promise.resolve('c'), async (r) => { delivered.push(r); });
    await expect(failed).rejects.toThrow('worker died');
    await expect(refused).rejects.toThrow('downstream refused b');
    await fine;
    expect(delivered).toEqual(['c']);
  });
});
