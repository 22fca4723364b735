import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import type { Component, Consumer, CreateSettings, Host, Item } from '../core/component.js';
import { errorMessage, isRetryable, PartialFailureError, PermanentError, ShutdownError } from '../core/errors.js';
import type { Context, RecordBatch, RRRecord } from '../core/record.js';
import type { ComponentMetrics } from '../core/telemetry.js';
import type { Logger } from 'pino';
import type { ExporterHelperConfig } from '../config/fragments.js';
import { Backoff, sleep } from './backoff.js';
import { DeadLetter, shortReason } from './dead-letter.js';
import { MemoryQueue, type BatchQueue, type Sizer } from './memory-queue.js';

export type { ExporterHelperConfig };
export type QueueConfig = ExporterHelperConfig['sending_queue'];

export interface PushTarget<T extends Item = RRRecord> {
  /**
   * Deliver a batch. Throw RetryableError / PermanentError, or PartialFailureError naming the
   * records (by index) that failed; the helper retries only those.
   */
  push(batch: T[], signal: AbortSignal): Promise<void>;
  start?(host: Host): Promise<void>;
  /** Called after the queue is drained. */
  shutdown?(): Promise<void>;
}

export interface QueueOptions {
  capacity: number;
  sizer: Sizer;
  block: boolean;
  /** The owning exporter's metrics: a persistent queue counts recovered and lost records there. */
  metrics?: ComponentMetrics;
  logger?: Logger;
}

/** A storage extension that can hold an exporter's queue on disk. */
export interface QueueStorage {
  createQueue(owner: string, opts: QueueOptions): Promise<BatchQueue>;
}

/** How a delivery ended: sent or dead-lettered (the queue may forget it), or abandoned at the shutdown deadline. */
type Outcome = 'done' | 'abandoned';

/**
 * Wraps an exporter's push with the sending queue, retries with backoff, timeouts, partial
 * retry and dead-lettering, so every exporter delivers the same way.
 */
export function createExporter<T extends Item = RRRecord>(settings: CreateSettings<ExporterHelperConfig>, target: PushTarget<T>): Component & Consumer<T> {
  // The helper never looks inside an item except to size it (memory-queue) and to dead-letter it
  // (dead-letter), both of which handle metric points too; logs and metrics share one code path,
  // the persistent queue (file_storage) included.
  return new HelperExporter(settings, target as unknown as PushTarget) as unknown as Component & Consumer<T>;
}

/** Extra pushes one failing batch may spend to isolate its permanently failing records. */
const SPLIT_BUDGET = 64;

class HelperExporter implements Component, Consumer {
  private queue?: BatchQueue & { drainRemaining?(): RecordBatch[] };
  private workers: Promise<void>[] = [];
  private deadLetter!: DeadLetter;
  private stopping = false;
  /** Aborted when the shutdown deadline passes: sleeps end, in-flight pushes are abandoned. */
  private readonly stopController = new AbortController();

  constructor(private readonly s: CreateSettings<ExporterHelperConfig>, private readonly target: PushTarget) {
    // Every batch waiting out a backoff listens on this signal (each removes its listener when it
    // wakes); without a sending queue there is one per batch in flight, which is not a leak.
    setMaxListeners(0, this.stopController.signal);
  }

  async start(host: Host): Promise<void> {
    const c = this.s.config;
    this.deadLetter = new DeadLetter(this.s.id, c.dead_letter, join(host.dataDir, 'dead_letter'), this.s.metrics, this.s.logger, host);
    await this.target.start?.(host);
    const q = c.sending_queue;
    if (q?.enabled) {
      if (q.storage) {
        const storage = host.getExtension<Partial<QueueStorage>>(q.storage);
        if (!storage?.createQueue) throw new Error(`sending_queue.storage: extension "${q.storage}" cannot hold a queue`);
        this.queue = await storage.createQueue(this.s.id, {
          capacity: q.queue_size, sizer: q.sizer, block: q.block_on_overflow, metrics: this.s.metrics, logger: this.s.logger,
        });
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
    if (this.stopping) {
      this.s.metrics.refused(batch.length, 'ShutdownError');
      throw new ShutdownError(`exporter ${this.s.id} is shutting down`);
    }
    if (this.queue) {
      try {
        await this.queue.offer(batch, ctx.signal);
      } catch (err) {
        // Refused back to the sender (queue full, write error, caller gave up): not lost, not ours.
        this.s.metrics.refused(batch.length, (err as Error)?.name ?? 'error');
        throw err;
      }
      this.s.metrics.queueSize(this.queue.items);
      return;
    }
    const outcome = await this.deliver(batch);
    if (outcome === 'abandoned') await this.deadLetter.records(batch, 'shutdown deadline reached before delivery');
  }

  private async work(): Promise<void> {
    const q = this.queue!;
    for (;;) {
      if (this.stopController.signal.aborted) break;
      const item = await q.take();
      if (!item) break;
      let outcome: Outcome = 'abandoned';
      try {
        outcome = await this.deliver(item.batch);
        if (outcome === 'abandoned' && !q.persistent) {
          // An in-memory batch would die with the process: keep it in the dead-letter destination.
          await this.deadLetter.records(item.batch, 'shutdown deadline reached before delivery');
          outcome = 'done';
        }
      } catch (err) {
        this.s.logger.error({ err }, 'delivery failed unexpectedly');
        if (!q.persistent) {
          this.s.metrics.dropped(item.batch.length, 'internal_error');
          outcome = 'done';
        }
      } finally {
        // A persistent queue keeps an abandoned batch on disk: it is delivered after the restart.
        if (outcome === 'done') await item.ack();
        this.s.metrics.queueSize(q.items);
      }
    }
    if (this.stopController.signal.aborted && q.drainRemaining) {
      const rest = q.drainRemaining();
      for (const b of rest) await this.deadLetter.records(b, 'shutdown deadline reached before delivery');
      this.s.metrics.queueSize(q.items);
    }
  }

  /** Deliver with retries until sent or dead-lettered ('done'), or until the shutdown deadline ('abandoned'). */
  private async deliver(batch: RecordBatch): Promise<Outcome> {
    const retry = this.s.config.retry_on_failure;
    const backoff = new Backoff(retry);
    let pending = batch;
    for (;;) {
      if (this.stopController.signal.aborted) return this.abandon(pending, batch);
      const outcome = await this.attempt(pending);
      if (outcome.retry.length === 0) return 'done';
      pending = outcome.retry;
      if (this.stopController.signal.aborted) return this.abandon(pending, batch);
      const wait = retry.enabled ? backoff.next(outcome.retryAfterMs) : undefined;
      if (wait === undefined) {
        await this.deadLetter.records(pending, retry.enabled ? `retries exhausted: ${outcome.reason}` : `retry disabled: ${outcome.reason}`);
        return 'done';
      }
      this.s.logger.warn({ records: pending.length, reason: outcome.reason, retry_in_ms: Math.round(wait) }, 'export failed, will retry');
      try {
        await sleep(wait, this.stopController.signal);
      } catch {
        return this.abandon(pending, batch);
      }
    }
  }

  /**
   * At the deadline: records of the batch already delivered or dead-lettered must not be handled
   * twice, so only the pending part is dead-lettered here for a memory queue; a persistent queue
   * keeps the whole batch (at-least-once: the delivered part may be sent again after a restart).
   */
  private async abandon(pending: RecordBatch, batch: RecordBatch): Promise<Outcome> {
    if (this.queue?.persistent) return 'abandoned';
    if (pending !== batch || !this.queue) {
      await this.deadLetter.records(pending, 'shutdown deadline reached before delivery');
      return 'done';
    }
    return 'abandoned';
  }

  /** One push; returns the records to retry (permanent failures are dead-lettered here). */
  private async attempt(batch: RecordBatch, budget = { left: SPLIT_BUDGET }): Promise<{ retry: RecordBatch; reason: string; retryAfterMs?: number }> {
    const timeout = AbortSignal.timeout(this.s.config.timeout > 0 ? this.s.config.timeout : 2_147_483_647);
    const signal = AbortSignal.any([timeout, this.stopController.signal]);
    const t0 = performance.now();
    try {
      await raceAbort(this.target.push(batch, signal), signal);
      this.s.metrics.sendDuration((performance.now() - t0) / 1000, 'sent');
      this.s.metrics.sent(batch.length);
      return { retry: [], reason: '' };
    } catch (err) {
      this.s.metrics.sendDuration((performance.now() - t0) / 1000, 'failed');
      if (err instanceof PartialFailureError) {
        const failures = new Map<number, (typeof err.failures)[number]>();
        for (const f of err.failures) if (Number.isInteger(f.index) && f.index >= 0 && f.index < batch.length) failures.set(f.index, f);
        this.s.metrics.sent(batch.length - failures.size);
        const retry: RecordBatch = [];
        const permanent = new Map<string, RecordBatch>();
        for (const [i, f] of failures) {
          const rec = batch[i]!;
          if (f.retryable) retry.push(rec);
          else permanent.set(f.reason, [...(permanent.get(f.reason) ?? []), rec]);
        }
        for (const [reason, recs] of permanent) {
          this.s.metrics.failed(recs.length, shortReason(reason));
          await this.deadLetter.records(recs, reason);
        }
        if (retry.length) this.s.metrics.failed(retry.length, 'partial');
        const reasons = [...failures.values()].filter((f) => f.retryable).map((f) => f.reason);
        return { retry, reason: reasons[0] ?? '' };
      }
      const aborted = signal.aborted && !(err instanceof PermanentError);
      const reason = aborted
        ? this.stopController.signal.aborted ? 'shutdown deadline' : `timeout after ${this.s.config.timeout}ms`
        : errorMessage(err);
      if (!aborted && !isRetryable(err) && batch.length > 1 && budget.left > 0) {
        // One bad record (too deep to serialize, rejected as invalid) must not take its batch
        // with it: split until the failing records stand alone, within a budget of pushes.
        const half = Math.ceil(batch.length / 2);
        budget.left -= 2;
        const a = await this.attempt(batch.slice(0, half), budget);
        const b = await this.attempt(batch.slice(half), budget);
        return { retry: [...a.retry, ...b.retry], reason: a.reason || b.reason, ...((a.retryAfterMs ?? b.retryAfterMs) !== undefined ? { retryAfterMs: a.retryAfterMs ?? b.retryAfterMs } : {}) };
      }
      this.s.metrics.failed(batch.length, shortReason(reason));
      if (!aborted && !isRetryable(err)) {
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
        // A memory queue is drained (until the deadline); a persistent one stops handing out
        // batches and keeps the rest on disk, while in-flight deliveries finish.
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

/** A push that ignores its AbortSignal (a hung connection) must still end when the signal fires. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
