import { getHeapStatistics } from 'node:v8';

/**
 * The JS heaps of the process's worker threads, as each last reported them.
 *
 * `process.memoryUsage()` on the event loop measures its own V8 isolate only: a worker thread has
 * an isolate and heap of its own, which neither `heapUsed` nor `external` includes. A component
 * that runs worker threads reports each thread's heap here (after every batch it answers, so the
 * figure is at most one batch old) and forgets it when the thread stops; memory_limiter adds what
 * is reported to what it measures itself.
 */
/** What a worker thread measures of itself, to send with its answers. */
export interface HeapReport {
  /** Bytes of the thread's JS heap in use. */
  heapUsed: number;
  /** Bytes of off-heap memory (Buffers, ArrayBuffers) the thread's isolate holds. */
  external: number;
  /** The thread's V8 heap limit in bytes. */
  heapLimit: number;
}

export interface ThreadHeap extends HeapReport {
  /** Thread name, shown when the limiter says why it refuses (e.g. `redaction redaction-0`). */
  name: string;
}

/** The calling thread's own isolate, measured (about a microsecond). */
export function heapReport(): HeapReport {
  const h = getHeapStatistics();
  return { heapUsed: h.used_heap_size, external: h.external_memory, heapLimit: h.heap_size_limit };
}

const heaps = new Map<object, ThreadHeap>();

export const threadMemory = {
  /** Records (or updates) the heap of the thread that `owner` stands for. */
  report(owner: object, name: string, r: HeapReport): void {
    if (!(r.heapUsed >= 0 && r.external >= 0 && r.heapLimit > 0)) return;
    heaps.set(owner, { name, heapUsed: r.heapUsed, external: r.external, heapLimit: r.heapLimit });
  },
  /** The thread stopped: its heap is gone. */
  forget(owner: object): void {
    heaps.delete(owner);
  },
  /** Bytes in use by every reported thread: heaps plus off-heap memory. */
  used(): number {
    let n = 0;
    for (const h of heaps.values()) n += h.heapUsed + h.external;
    return n;
  },
  /** The reported threads, fullest heap (nearest its limit) first. */
  threads(): ThreadHeap[] {
    return [...heaps.values()].sort((a, b) => b.heapUsed / b.heapLimit - a.heapUsed / a.heapLimit);
  },
};
