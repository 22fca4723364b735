import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { QueryTimeoutError } from '../../core/query.js';
import { threadMemory, type HeapReport } from '../../core/thread-memory.js';

const require = createRequire(import.meta.url);

/*
 * The worker's code is a string so that it runs the same from src (tests) and dist: it only opens
 * its own read-only connection and runs the statements it is sent, with REGEXP matched by RE2JS
 * (linear time). Building the SQL and reading the rows stays in store.ts. Each answer carries the
 * worker's heap (core/thread-memory.ts, which memory_limiter counts).
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const { RE2JS } = require(workerData.re2);
const { getHeapStatistics } = require('node:v8');
const heap = () => {
  const h = getHeapStatistics();
  return { heapUsed: h.used_heap_size, external: h.external_memory, heapLimit: h.heap_size_limit };
};
const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const cache = new Map();
db.function('regexp', { deterministic: true }, (p, v) => {
  let re = cache.get(p);
  if (!re) {
    re = RE2JS.compile(String(p));
    if (cache.size > 100) cache.clear();
    cache.set(p, re);
  }
  return re.matcher(String(v ?? '')).find() ? 1 : 0;
});
parentPort.on('message', ({ id, sql, args, one }) => {
  try {
    const st = db.prepare(sql);
    const rows = one ? st.get(...args) : st.all(...args);
    parentPort.postMessage({ id, rows, heap: heap() });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err), heap: heap() });
  }
});
`;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * Runs read queries of the embedded store in a worker thread, so a long query never holds the
 * event loop (ingestion, health, metrics, signals). A query whose signal aborts (its deadline)
 * terminates the worker, which stops SQLite at its next row; the next query starts a new one.
 */
export class SqlWorker {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;

  constructor(private readonly path: string) {}

  all(sql: string, args: unknown[], signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    return this.run(sql, args, false, signal) as Promise<Record<string, unknown>[]>;
  }

  get(sql: string, args: unknown[], signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
    return this.run(sql, args, true, signal) as Promise<Record<string, unknown> | undefined>;
  }

  private run(sql: string, args: unknown[], one: boolean, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the embedded store is closed'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const w = this.ensure();
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.kill(w, abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      w.postMessage({ id, sql, args, one });
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_CODE, {
      eval: true,
      workerData: { path: this.path, sqlite: require.resolve('better-sqlite3'), re2: require.resolve('re2js') },
    });
    w.unref();
    w.on('message', (m: { id: number; rows?: unknown; error?: string; heap?: HeapReport }) => {
      if (m.heap && this.worker === w) threadMemory.report(w, 'embedded-store-query', m.heap);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.rows);
    });
    w.on('error', (err) => this.kill(w, err));
    w.on('exit', () => this.kill(w, new Error('the embedded store query worker stopped')));
    this.worker = w;
    return w;
  }

  /** Stop a worker and fail what it was running (queries queued behind a timed-out one go too). */
  private kill(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    threadMemory.forget(w);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    void w.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    if (w) {
      this.kill(w, new Error('the embedded store is closing'));
      await w.terminate();
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new QueryTimeoutError(0);
}
