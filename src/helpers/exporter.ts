import { join } from 'node:path';
import type { Component, Consumer, CreateSettings, Host } from '../core/component.js';
import { errorMessage, isRetryable, PartialFailureError, PermanentError, ShutdownError } from '../core/errors.js';
import type { Context, RecordBatch } from '../core/record.js';
import { Backoff, sleep, type RetryConfig } from './backoff.js';
import { DeadLetter, shortReason, type DeadLetterConfig } from './dead-letter.js';
import { MemoryQueue, type BatchQueue, type Sizer } from './memory-queue.js';

export interface QueueConfig {
  enabled: boolean;
  num_consumers: number;
  queue_size: number;
  sizer: Sizer;
  block_on_overflow: boolean;
  storage?: string;
}

/** The settings every exporter shares (see fragments.exporterHelperProperties). */
export interface ExporterHelperConfig {
  timeout: number;
  sending_queue: QueueConfig;
  retry_on_failure: RetryConfig;
  dead_letter?: DeadLetterConfig;
}

export interface PushTarget {
  /**
   * Deliver a batch. Throw RetryableError / PermanentError, or PartialFailureError naming the
   * records (by index) that failed; the helper retries only those.
   */
  push(batch: RecordBatch, signal: AbortSignal): Promise<void>;
  start?(host: Host): Promise<void>;
  /** Called after the queue is drained. */
  shutdown?(): Promise<void>;
}

/** A storage extension that can hold an exporter's queue on disk. */
export interface QueueStorage {
  createQueue(owner: string, opts: { capacity: number; sizer: Sizer; block: boolean }): Promise<BatchQueue>;
}

/**
 * Wraps an exporter's push with the sending queue, retries with backoff, timeouts, partial
 * retry and dead-lettering, so every exporter delivers the same way.
 */
export function createExporter(settings: CreateSettings<ExporterHelperConfig>, target: PushTarget): Component & Consumer {
  return new HelperExporter(settings, target);
}

class HelperExporter implements Component, Consumer {
  private queue?: BatchQueue;
  private workers: Promise<void>[] = [];
  private deadLetter!: DeadLetter;
  private stopping = false;
  private readonly stopController = new AbortController();
  private host?: Host;

  constructor(private readonly s: CreateSettings<ExporterHelperConfig>, private readonly target: PushTarget) {}

  async start(host: Host): Promise<void> {
    this.host = host;
    const c = this.s.config;
    this.deadLetter = new DeadLetter(this.s.id, c.dead_letter, join(host.dataDir, 'dead_letter'), this.s.metrics, this.s.logger, host);
    await this.target.start?.(host);
    const q = c.sending_queue;
    if (q?.enabled) {
      if (q.storage) {
        const storage = host.getExtension<Partial<QueueStorage>>(q.storage);
        if (!storage?.createQueue) throw new Error(`sending_queue.storage: extension "${q.storage}" cannot hold a queue`);
        this.queue = await storage.createQueue(this.s.id, { capacity: q.queue_size, sizer: q.sizer, block: q.block_on_overflow });
      } else {
        this.queue = new MemoryQueue(q.queue_size, q.sizer, q.block_on_overflow);
      }
      this.s.metrics.queueCapacity(q.queue_size);
      this.s.metrics.queueSize(this.queue.items);
      for (let i = 0; i < q.num_consumers; i++) this.workers.push(this.work());
    }
  }

  async consume(batch: RecordBatch, ctx: Context): Promise<void> {
    if (batch.length === 0) return;
    if (this.stopping) throw new ShutdownError(`exporter ${this.s.id} is shutting down`);
    if (this.queue) {
      await this.queue.offer(batch, ctx.signal);
      this.s.metrics.queueSize(this.queue.items);
      return;
    }
    await this.deliver(batch);
  }

  private async work(): Promise<void> {
    const q = this.queue!;
    for (;;) {
      const item = await q.take();
      if (!item) return;
      try {
        await this.deliver(item.batch);
      } finally {
        await item.ack();
        this.s.metrics.queueSize(q.items);
      }
    }
  }

  /** Deliver with retries until sent or dead-lettered. Never throws for a delivery failure. */
  private async deliver(batch: RecordBatch): Promise<void> {
    const retry = this.s.config.retry_on_failure;
    const backoff = new Backoff(retry);
    let pending = batch;
    for (;;) {
      const outcome = await this.attempt(pending);
      if (outcome.retry.length === 0) return;
      pending = outcome.retry;
      const wait = retry.enabled ? backoff.next(outcome.retryAfterMs) : undefined;
      if (wait === undefined) {
        await this.deadLetter.records(pending, retry.enabled ? `retries exhausted: ${outcome.reason}` : `retry disabled: ${outcome.reason}`);
        return;
      }
      this.s.logger.warn({ records: pending.length, reason: outcome.reason, retry_in_ms: Math.round(wait) }, 'export failed, will retry');
      try {
        await sleep(wait, this.stopController.signal);
      } catch {
        // Shutdown deadline reached while waiting: one last try, then dead-letter what is left.
        const last = await this.attempt(pending);
        await this.deadLetter.records(last.retry, `shutdown before delivery: ${last.reason}`);
        return;
      }
    }
  }

  /** One push; returns the records to retry (permanent failures are dead-lettered here). */
  private async attempt(batch: RecordBatch): Promise<{ retry: RecordBatch; reason: string; retryAfterMs?: number }> {
    const signal = AbortSignal.timeout(this.s.config.timeout > 0 ? this.s.config.timeout : 2_147_483_647);
    try {
      await this.target.push(batch, signal);
      this.s.metrics.sent(batch.length);
      return { retry: [], reason: '' };
    } catch (err) {
      if (err instanceof PartialFailureError) {
        const failedIdx = new Set(err.failures.map((f) => f.index));
        this.s.metrics.sent(batch.length - failedIdx.size);
        const retry: RecordBatch = [];
        const permanent = new Map<string, RecordBatch>();
        for (const f of err.failures) {
          const rec = batch[f.index];
          if (!rec) continue;
          if (f.retryable) retry.push(rec);
          else permanent.set(f.reason, [...(permanent.get(f.reason) ?? []), rec]);
        }
        for (const [reason, recs] of permanent) {
          this.s.metrics.failed(recs.length, shortReason(reason));
          await this.deadLetter.records(recs, reason);
        }
        if (retry.length) this.s.metrics.failed(retry.length, 'partial');
        const reasons = err.failures.filter((f) => f.retryable).map((f) => f.reason);
        return { retry, reason: reasons[0] ?? '' };
      }
      const reason = signal.aborted && !(err instanceof PermanentError) ? `timeout after ${this.s.config.timeout}ms` : errorMessage(err);
      this.s.metrics.failed(batch.length, shortReason(reason));
      if (!signal.aborted && !isRetryable(err)) {
        await this.deadLetter.records(batch, reason);
        return { retry: [], reason };
      }
      return { retry: batch, reason, retryAfterMs: (err as { retryAfterMs?: number }).retryAfterMs };
    }
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    const onDeadline = () => this.stopController.abort(new Error('shutdown deadline'));
    deadline.addEventListener('abort', onDeadline, { once: true });
    if (deadline.aborted) onDeadline();
    try {
      if (this.queue) {
        this.queue.close();
        await Promise.all(this.workers);
      }
      await this.target.shutdown?.();
    } finally {
      deadline.removeEventListener('abort', onDeadline);
      await this.deadLetter?.close();
    }
  }
}
