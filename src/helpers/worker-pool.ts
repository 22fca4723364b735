import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { RetryableError, ShutdownError } from '../core/errors.js';
import { threadMemory, type HeapReport } from '../core/thread-memory.js';
import { usableCpus } from './usable-cpus.js';

/**
 * A small pool of worker threads running one module's pure batch function, so CPU-heavy
 * processing leaves the event loop (receiving, acknowledging, exporting) free and uses every core.
 *
 * Each worker imports `module` and calls its export `factory(init)` once; the function it returns
 * then gets every batch sent to that worker. `init` may hold secrets: it goes to the workers as
 * workerData and is never logged or put in an error. A batch fails with a RetryableError when its
 * worker throws for the whole batch, crashes or exits; a crashed worker is replaced on the next
 * batch, and isolateFailures (below) finds what in such a batch fails by itself. Results come
 * back in completion order: `InOrder` (worker-pool-order.ts) restores the submission order where
 * a pipeline needs it. Each worker's heap, as it reports it with every answer, is kept in
 * core/thread-memory.ts while the worker lives, so memory_limiter counts it.
 */
export interface WorkerPoolOptions {
  /** File URL (or path) of the module the workers load; a `.ts` module under src/ runs as its build under dist/. */
  module: string | URL;
  /** Name of the module's export that builds the batch function from `init`. */
  factory: string;
  init: unknown;
  size: number;
  /** Named in errors and thread names, e.g. `redaction`. */
  name: string;
  /** Heap sizes of each worker (a small young generation keeps a worker that handles only buffers small). */
  resourceLimits?: ResourceLimits;
}

/** What a worker sends back for one batch. */
interface Reply {
  id: number;
  result?: unknown;
  error?: string;
  heap?: HeapReport;
}

interface Job {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** Fails every batch a worker holds (its jobs are cleared first, so none is failed twice). */
function rejectAll(slot: Slot, err: Error): void {
  const jobs = [...slot.jobs.values()];
  slot.jobs.clear();
  for (const j of jobs) j.reject(err);
}

/** The most workers `auto` starts, so a big node without a CPU limit does not get a heap per core. */
export const AUTO_MAX_WORKERS = 8;

/**
 * `workers: auto` is one worker per CPU the process may use (usableCpus), at most AUTO_MAX_WORKERS,
 * and none on one CPU, where crossing threads only adds work. Measured on 2 CPUs (bench/RESULTS.md,
 * issue 13 round 8) 2 workers beat 1 by 12%: the event loop takes little once redaction left it.
 */
export function poolSize(workers: number | 'auto', cpus = usableCpus()): number {
  return workers === 'auto' ? (cpus < 2 ? 0 : Math.min(AUTO_MAX_WORKERS, cpus)) : workers;
}

/** The URL a worker can import: a TypeScript module under src/ (tests) maps to its compiled twin under dist/. */
export function runnableModule(module: string | URL): URL {
  const url = typeof module === 'string' && !module.startsWith('file:') ? pathToFileURL(module) : new URL(module);
  if (!url.pathname.endsWith('.ts')) return url;
  const i = url.pathname.lastIndexOf('/src/');
  if (i < 0) throw new Error(`worker pool: cannot run ${url.pathname} in a worker (not JavaScript, not under src/)`);
  const compiled = new URL(url);
  compiled.pathname = `${url.pathname.slice(0, i)}/dist/${url.pathname.slice(i + 5, -3)}.js`;
  if (!existsSync(fileURLToPath(compiled))) throw new Error(`worker pool: ${fileURLToPath(compiled)} is missing; run npm run build`);
  return compiled;
}

/** The workers' code, resolved when the first pool is made (so importing this module needs no build). */
const entry = () => runnableModule(new URL(`./worker-pool-entry.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export class WorkerPool {
  private readonly slots: (Slot | undefined)[];
  private readonly module: URL;
  private readonly entry: URL;
  /** Every batch sent and not yet settled, so that close() can wait for them. */
  private readonly running = new Set<Promise<unknown>>();
  /** Workers started by runAlone, each for one batch. */
  private readonly alone = new Set<Slot>();
  private seq = 0;
  private closing = false;
  /** Workers lost to a crash or an exit with a batch in hand (a pool worker is replaced on the next batch). */
  crashes = 0;

  constructor(private readonly o: WorkerPoolOptions) {
    if (!Number.isInteger(o.size) || o.size < 1) throw new Error(`worker pool ${o.name}: size must be a positive integer`);
    this.module = runnableModule(o.module);
    this.entry = entry();
    this.slots = new Array<Slot | undefined>(o.size).fill(undefined);
  }

  /** Starts every worker and waits until each has loaded its module, so a broken module fails at start. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.ready(this.spawn(i))));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Batches sent and not yet answered. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + (s?.jobs.size ?? 0), 0);
  }

  /** The live worker threads (a test stops one to simulate a crash). */
  get threads(): Worker[] {
    return this.slots.flatMap((s) => (s ? [s.worker] : []));
  }

  /** Runs one batch on the least busy worker. */
  run<R>(input: unknown, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.closing) return Promise.reject(new ShutdownError(`worker pool ${this.o.name} is shutting down`));
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) if ((this.slots[i]?.jobs.size ?? 0) < (this.slots[best]?.jobs.size ?? 0)) best = i;
    const slot = this.slots[best] ?? this.spawn(best);
    const id = ++this.seq;
    const p = new Promise<R>((resolve, reject) => {
      if (slot.jobs.size === 0) slot.worker.ref();
      slot.jobs.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage({ id, input }, transfer);
    });
    const settled = p.then(() => undefined, () => undefined);
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return p;
  }

  /**
   * Runs one batch in a worker of its own, started for it and stopped after it, so that what it
   * does (throw, exit, crash) touches no other batch: isolateFailures' second try.
   */
  async runAlone<R>(input: unknown, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.closing) throw new ShutdownError(`worker pool ${this.o.name} is shutting down`);
    const slot = this.newSlot(`${this.o.name}-alone`);
    const p = new Promise<R>((resolve, reject) => slot.jobs.set(0, { resolve: resolve as (v: unknown) => void, reject }));
    const done = p.then(() => undefined, () => undefined);
    this.running.add(done);
    this.alone.add(slot);
    try {
      slot.worker.ref();
      slot.worker.postMessage({ id: 0, input }, transfer);
      return await p;
    } finally {
      this.alone.delete(slot);
      this.running.delete(done);
      threadMemory.forget(slot);
      await slot.worker.terminate();
    }
  }

  /** Waits for the batches in flight (they drain), then stops the workers. */
  async close(deadline?: AbortSignal): Promise<void> {
    this.closing = true;
    const aborted = deadline ? new Promise<void>((r) => (deadline.aborted ? r() : deadline.addEventListener('abort', () => r(), { once: true }))) : new Promise<void>(() => {});
    await Promise.race([Promise.all(this.running), aborted]);
    const stopped = () => new ShutdownError(`worker pool ${this.o.name} stopped before the batch finished`);
    await Promise.all([
      ...this.slots.map(async (s, i) => {
        if (!s) return;
        this.fail(i, s, stopped());
        await s.worker.terminate();
      }),
      ...[...this.alone].map(async (s) => {
        rejectAll(s, stopped());
        await s.worker.terminate();
      }),
    ]);
  }

  private spawn(i: number): Slot {
    const slot = this.newSlot(this.threadName(i), () => this.slots[i] === slot);
    slot.worker.on('error', (err) => this.crashed(i, slot, `crashed: ${err.message}`));
    slot.worker.on('exit', (code) => this.crashed(i, slot, `exited with code ${code}`));
    this.slots[i] = slot;
    return slot;
  }

  /**
   * A worker and its answers. One started for runAlone has no place in `slots`: its crash fails
   * its one batch here. `live` says whether the slot still counts (a replaced one reports no heap).
   */
  private newSlot(name: string, live?: () => boolean): Slot {
    const worker = new Worker(this.entry, {
      workerData: { module: this.module.href, factory: this.o.factory, init: this.o.init },
      name,
      ...(this.o.resourceLimits ? { resourceLimits: this.o.resourceLimits } : {}),
    });
    // An idle worker does not keep the process alive (one with a batch in flight does).
    worker.unref();
    const slot: Slot = { worker, jobs: new Map() };
    worker.on('message', (m: Reply | { ready: true; heap?: HeapReport }) => {
      if (m.heap && (live ? live() : this.alone.has(slot))) threadMemory.report(slot, name, m.heap);
      if ('ready' in m) return;
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      if (slot.jobs.size === 0) worker.unref();
      if (m.error !== undefined) job.reject(new RetryableError(`worker pool ${this.o.name}: the batch failed in a worker: ${m.error}`));
      else job.resolve(m.result);
    });
    if (!live) {
      const lost = (how: string) => {
        if (slot.jobs.size === 0) return; // stopped after its batch
        this.crashes++;
        rejectAll(slot, new RetryableError(`worker pool ${this.o.name}: a worker ${how}`));
      };
      worker.on('error', (err) => lost(`crashed: ${err.message}`));
      worker.on('exit', (code) => lost(`exited with code ${code}`));
    }
    return slot;
  }

  private threadName(i: number): string {
    return `${this.o.name}-${i}`;
  }

  private ready(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (m && typeof m === 'object' && 'ready' in m) done();
      };
      const onError = (err: Error) => done(new Error(`worker pool ${this.o.name}: a worker could not load its module: ${err.message}`));
      const onExit = (code: number) => done(new Error(`worker pool ${this.o.name}: a worker exited at start with code ${code}`));
      const done = (err?: Error) => {
        slot.worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (slot.jobs.size === 0) slot.worker.unref();
        if (err) reject(err);
        else resolve();
      };
      slot.worker.ref();
      slot.worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  }

  /** The batches of a crashed worker fail retryably; the slot is refilled on the next batch. */
  private crashed(i: number, slot: Slot, how: string): void {
    if (this.slots[i] !== slot) return;
    this.crashes++;
    this.fail(i, slot, new RetryableError(`worker pool ${this.o.name}: a worker ${how}; its batches are to be retried`));
  }

  private fail(i: number, slot: Slot, err: Error): void {
    if (this.slots[i] === slot) this.slots[i] = undefined;
    threadMemory.forget(slot);
    rejectAll(slot, err);
    void slot.worker.terminate();
  }
}

/** How isolateFailures tells a record that fails by itself from workers that fail for everything. */
export interface Isolation<T, R> {
  /** Runs items in a worker started for them alone (WorkerPool.runAlone); one answer per item. */
  runAlone(items: T[]): Promise<R[]>;
  /** The answer for an item that failed by itself. */
  giveUp(item: T, err: Error): R;
  /**
   * Runs something known to succeed (a minimal item) alone; it is asked before an item is given
   * up when nothing of the batch succeeded alone yet, so that a worker that cannot start or fails
   * on everything refuses the batch (retryably) instead of giving every item up.
   */
  probe(): Promise<unknown>;
}

/**
 * Runs a batch that failed in a shared worker (its batch function threw, or the worker died and
 * took every batch it held with it) again alone in a worker of its own, then in halves while it
 * still fails, one try at a time, so that only items that fail by themselves are given up and
 * every other item gets its answer: a record that can never succeed costs at most 2·log2(n) + 1
 * tries and is never retried forever. When nothing succeeds alone, not even the probe, the workers
 * are at fault, not the items: the error is thrown and the batch is refused whole (so is it at
 * shutdown, a ShutdownError).
 */
export async function isolateFailures<T, R>(items: T[], how: Isolation<T, R>): Promise<R[]> {
  let worked = false;
  const run = async (part: T[]): Promise<R[]> => {
    try {
      const answers = await how.runAlone(part);
      worked = true;
      return answers;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (err instanceof ShutdownError) throw err;
      if (part.length > 1) {
        const mid = part.length >> 1;
        const head = await run(part.slice(0, mid));
        return [...head, ...(await run(part.slice(mid)))];
      }
      if (!worked) {
        await how.probe(); // throws when the workers fail whatever they are given
        worked = true;
      }
      return [how.giveUp(part[0]!, err)];
    }
  };
  return run(items);
}
