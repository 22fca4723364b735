import type { Consumer } from '../../core/component.js';
import type { RRRecord } from '../../core/record.js';
import type { ComponentMetrics } from '../../core/telemetry.js';

/**
 * The bounded buffer between the capture path and the pipeline. push() never blocks and never
 * throws: when the buffer is full (the pipeline is slow, stalled or down), the capture is dropped
 * and counted as `capture_overflow`, so the proxied application is never slowed down.
 */
export class CaptureSink {
  private queue: RRRecord[] = [];
  private inFlight = 0;
  private scheduled = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  dropped = 0;
  delivered = 0;

  constructor(
    private readonly next: Consumer,
    private readonly metrics: ComponentMetrics,
    private readonly opts: { maxRecords: number; batchSize: number; maxInFlight: number; receiver: string },
  ) {
    metrics.queueCapacity(opts.maxRecords);
  }

  push(r: RRRecord): void {
    if (this.stopped || this.queue.length >= this.opts.maxRecords) {
      this.dropped++;
      this.metrics.dropped(1, 'capture_overflow');
      return;
    }
    this.queue.push(r);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  get size(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      this.inFlight++;
      this.next.consume(batch, { receiver: this.opts.receiver }).then(
        () => {
          this.delivered += batch.length;
        },
        () => {
          // The pipeline refused (the graph counted it as refused); captures cannot be replayed.
          this.dropped += batch.length;
          this.metrics.dropped(batch.length, 'pipeline_refused');
        },
      ).finally(() => {
        this.inFlight--;
        this.metrics.queueSize(this.queue.length);
        this.pump();
      });
    }
    this.metrics.queueSize(this.queue.length);
    if (this.queue.length === 0 && this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when everything pushed so far has been handed on (or dropped). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stop taking captures; wait for the buffer to drain until the deadline. */
  async close(deadline: AbortSignal): Promise<void> {
    this.stopped = true;
    this.pump();
    await Promise.race([
      this.idle(),
      new Promise<void>((r) => (deadline.aborted ? r() : deadline.addEventListener('abort', () => r(), { once: true }))),
    ]);
    if (this.queue.length > 0) {
      this.dropped += this.queue.length;
      this.metrics.dropped(this.queue.length, 'shutdown');
      this.queue = [];
    }
  }
}
