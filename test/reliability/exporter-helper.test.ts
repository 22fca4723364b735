import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../src/core/component.js';
import { isRetryable, PartialFailureError, RetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createExporter, type ExporterHelperConfig, type PushTarget } from '../../src/helpers/exporter.js';
import { testHost, tmp } from '../support/index.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function host(): Host {
  const dataDir = tmp('rrpipe-helper-');
  dirs.push(dataDir);
  return testHost(dataDir);
}

function config(o: Partial<ExporterHelperConfig> = {}): ExporterHelperConfig {
  return {
    timeout: 200,
    sending_queue: { enabled: false, num_consumers: 1, queue_size: 100, sizer: 'requests', block_on_overflow: true },
    retry_on_failure: { enabled: true, initial_interval: 10, max_interval: 20, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0 },
    ...o,
  };
}

const recs = (n: number): RecordBatch => Array.from({ length: n }, (_, i) => newRecord({ uuid: `u${i}` } as never));

function make(target: PushTarget, cfg = config()) {
  const t = new Telemetry({ processMetrics: false });
  const exp = createExporter({ id: 'x', kind: 'exporter', config: cfg, logger: silentLogger(), metrics: t.forComponent('x', 'exporter'), configDir: '.' }, target);
  return { exp, t };
}

describe('exporter helper', () => {
  it('a push that never answers and ignores its signal is timed out and retried', async () => {
    const signals: AbortSignal[] = [];
    let abortedBeforeRetry: unknown;
    const { exp, t } = make({
      push: (_batch, signal) => {
        signals.push(signal);
        if (signals.length === 1) return new Promise<void>(() => {});
        abortedBeforeRetry = signals[0]!.aborted && (signals[0]!.reason as Error).name;
        return Promise.resolve();
      },
    });
    const h = host();
    await exp.start(h);
    await exp.consume(recs(3), {});
    expect(signals).toHaveLength(2);
    // The retry came only after the first push's signal fired with the timeout.
    expect(abortedBeforeRetry).toBe('TimeoutError');
    expect(await t.total('failed', { reason: 'timeout after Nms' })).toBe(3);
    expect(await t.total('sent')).toBe(3);
    await exp.shutdown(AbortSignal.timeout(1000));
  });

  it('retries only the records that failed; permanent ones go to the dead-letter directory with their reason', async () => {
    const pushed: string[][] = [];
    const { exp, t } = make({
      async push(batch) {
        pushed.push(batch.map((r) => r.rrpair.uuid as string));
        if (pushed.length === 1) {
          throw new PartialFailureError([
            { index: 1, reason: 'es_rejected_execution_exception', retryable: true },
            { index: 3, reason: 'mapper_parsing_exception: bad field', retryable: false },
            { index: 99, reason: 'out of range', retryable: true },
          ]);
        }
      },
    });
    const h = host();
    await exp.start(h);
    await exp.consume(recs(5), {});
    expect(pushed).toEqual([['u0', 'u1', 'u2', 'u3', 'u4'], ['u1']]);
    expect(await t.total('sent')).toBe(4);
    expect(await t.total('dead_lettered', { reason: 'mapper_parsing_exception' })).toBe(1);
    await exp.shutdown(AbortSignal.timeout(1000));
    const dl = join(h.dataDir, 'dead_letter');
    const lines = readdirSync(dl).flatMap((f) => readFileSync(join(dl, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ reason: 'mapper_parsing_exception: bad field', component: 'x', rrpair: { uuid: 'u3' } })]);
  });

  it('in-memory queue at the shutdown deadline: what is left is dead-lettered, and the loss equation holds', async () => {
    const { exp, t } = make(
      { push: async () => { throw new RetryableError('backend down'); } },
      config({ sending_queue: { enabled: true, num_consumers: 1, queue_size: 100, sizer: 'requests', block_on_overflow: true } }),
    );
    const h = host();
    await exp.start(h);
    for (let i = 0; i < 5; i++) await exp.consume(recs(2), {});
    await exp.shutdown(AbortSignal.timeout(150));
    expect(await t.total('dead_lettered')).toBe(10);
    expect(await t.total('sent')).toBe(0);
    const text = await t.text();
    expect(text).toMatch(/rrpipe_queue_size\{[^}]*component="x"[^}]*\} 0/);
  });

  it('many batches waiting out their backoff at once (no sending queue) warn of no listener leak', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      let up = false;
      let failures = 0;
      let allFailed!: () => void;
      const everyBatchFailed = new Promise<void>((r) => (allFailed = r));
      const { exp, t } = make({
        push: async () => {
          if (up) return;
          if (++failures === 40) allFailed();
          throw new RetryableError('down');
        },
      });
      await exp.start(host());
      const sends = Array.from({ length: 40 }, () => exp.consume(recs(1), {}));
      await everyBatchFailed; // 40 batches at once, each in a backoff sleep on the exporter's stop signal
      up = true;
      await Promise.all(sends);
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      expect(await t.total('sent')).toBe(40);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      await exp.shutdown(AbortSignal.timeout(1000));
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fetch connection failures are retryable, validation errors are not', () => {
    const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(isRetryable(fetchFailed)).toBe(true);
    expect(isRetryable(new TypeError('x is not a function'))).toBe(false);
    expect(isRetryable({ statusCode: 400 })).toBe(false);
    expect(isRetryable({ statusCode: 503 })).toBe(true);
    // AWS SDK v3 errors: the status is in $metadata; S3's 400 RequestTimeout and throttling are transient.
    const aws = (name: string, httpStatusCode: number, extra = {}) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode }, ...extra });
    expect(isRetryable(aws('InvalidArgument', 400))).toBe(false);
    expect(isRetryable(aws('NoSuchBucket', 404))).toBe(false);
    expect(isRetryable(aws('RequestTimeout', 400))).toBe(true);
    expect(isRetryable(aws('SlowDown', 503))).toBe(true);
    expect(isRetryable(aws('ExpiredToken', 403))).toBe(true);
    expect(isRetryable(aws('Whatever', 400, { $retryable: { throttling: true } }))).toBe(true);
  });
});
