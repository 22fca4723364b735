import type { Consumer } from './component.js';
import { errorMessage, PermanentError, RetryableError } from './errors.js';
import { isMetricPoint, type Signal } from './metric.js';
import { cloneRecord, type Context, type RecordBatch } from './record.js';

export interface FanoutTarget {
  consumer: Consumer;
  /** The target changes records in place; it gets its own copy when others share the batch. */
  mutates: boolean;
}

/**
 * Hands one batch to several consumers and resolves once all have accepted it. A target that
 * mutates gets a deep copy whenever another target sees the same batch, so one pipeline's
 * processors never change another pipeline's records.
 */
export function fanout(targets: FanoutTarget[]): Consumer {
  if (targets.length === 1) return targets[0]!.consumer;
  return {
    async consume(batch: RecordBatch, ctx: Context): Promise<void> {
      // Copies are made before any target sees the batch: a record that cannot be copied (nested
      // too deeply) fails the whole consume before anything was handed on, so the sender can
      // isolate it without delivering the others twice.
      let batches: RecordBatch[];
      try {
        batches = targets.map((t) => (t.mutates ? batch.map(cloneRecord) : batch));
      } catch (err) {
        throw new PermanentError(`record cannot be copied for fan-out: ${errorMessage(err)}`, { cause: err });
      }
      const results = await Promise.allSettled(targets.map((t, i) => t.consumer.consume(batches[i]!, ctx)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === 0) return;
      if (failed.length === 1) throw failed[0]!.reason;
      // Prefer a retryable error, so the sender retries rather than gives up.
      const retryable = failed.find((f) => f.reason instanceof RetryableError);
      if (retryable) throw retryable.reason;
      throw new AggregateError(failed.map((f) => f.reason), failed.map((f) => errorMessage(f.reason)).join('; '));
    },
  };
}

/**
 * A receiver's consumer when it feeds pipelines of several signals: each batch (all records or
 * all metric points) goes to the pipelines of its own signal only.
 */
export function fanoutBySignal(targets: Record<Signal, FanoutTarget[]>): Consumer {
  const used = (Object.keys(targets) as Signal[]).filter((s) => targets[s].length > 0);
  if (used.length === 1) return fanout(targets[used[0]!]);
  const logs = fanout(targets.logs);
  const metrics = fanout(targets.metrics);
  return {
    async consume(batch, ctx) {
      if (batch.length === 0) return;
      await (isMetricPoint(batch[0]) ? metrics : logs).consume(batch, ctx);
    },
  };
}
