import { BackpressureError, ShutdownError } from '../core/errors.js';
import { itemSize } from '../core/metric.js';
import type { RecordBatch } from '../core/record.js';

export type Sizer = 'requests' | 'items' | 'bytes';

/** A queued batch; `ack` removes it for good (a persistent queue deletes it from disk). */
export interface QueuedBatch {
  batch: RecordBatch;
  ack(): Promise<void>;
}

/** The queue in front of an exporter. A persistent implementation (file_storage) has the same shape. */
export interface BatchQueue {
  /** Resolves once the batch is queued (durably, for a persistent queue). Rejects with BackpressureError when full and not blocking. */
  offer(batch: RecordBatch, signal?: AbortSignal): Promise<void>;
  /** The next batch, or undefined once closed and empty. */
  take(): Promise<QueuedBatch | undefined>;
  /**
   * Stop taking offers. An in-memory queue's take() then drains what is left; a persistent queue's
   * take() returns undefined at once (what is left stays on disk for the next start).
   */
  close(): void;
  /** True when queued batches survive a restart (file_storage): the helper then leaves undelivered batches unacknowledged at the shutdown deadline. */
  readonly persistent?: boolean;
  /** Items currently queued (records). */
  readonly items: number;
  readonly capacity: number;
}

export function sizeOf(batch: RecordBatch, sizer: Sizer): number {
  if (sizer === 'requests') return 1;
  if (sizer === 'items') return batch.length;
  let n = 0;
  // A metrics exporter's queue holds metric points in the same batches (see createExporter).
  for (const r of batch) n += itemSize(r);
  return n;
}

export class MemoryQueue implements BatchQueue {
  private readonly q: { batch: RecordBatch; size: number }[] = [];
  private used = 0;
  private closed = false;
  private readonly takers: ((b: QueuedBatch | undefined) => void)[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  items = 0;

  constructor(readonly capacity: number, private readonly sizer: Sizer, private readonly block: boolean) {}

  async offer(batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    const size = sizeOf(batch, this.sizer);
    for (;;) {
      if (this.closed) throw new ShutdownError('exporter is shutting down');
      // A batch larger than the whole queue is let in when the queue is empty, so it cannot wait forever.
      if (this.used + size <= this.capacity || this.used === 0) break;
      if (!this.block) throw new BackpressureError(`sending queue is full (${this.used}/${this.capacity} ${this.sizer})`, { retryAfterMs: 1000 });
      if (signal?.aborted) throw signal.reason;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.spaceWaiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    const entry = { batch, size };
    this.used += size;
    this.items += batch.length;
    const taker = this.takers.shift();
    if (taker) taker(this.wrap(entry));
    else this.q.push(entry);
  }

  take(): Promise<QueuedBatch | undefined> {
    const e = this.q.shift();
    if (e) return Promise.resolve(this.wrap(e));
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  private wrap(e: { batch: RecordBatch; size: number }): QueuedBatch {
    return {
      batch: e.batch,
      ack: async () => {
        this.used -= e.size;
        this.items -= e.batch.length;
        this.spaceWaiters.splice(0).forEach((w) => w());
      },
    };
  }

  close(): void {
    this.closed = true;
    if (this.q.length === 0) this.takers.splice(0).forEach((t) => t(undefined));
    this.spaceWaiters.splice(0).forEach((w) => w());
  }

  /** Remove and return the batches not yet taken (shutdown deadline: they go to the dead-letter destination). */
  drainRemaining(): RecordBatch[] {
    const rest = this.q.splice(0);
    for (const e of rest) {
      this.used -= e.size;
      this.items -= e.batch.length;
    }
    return rest.map((e) => e.batch);
  }
}
