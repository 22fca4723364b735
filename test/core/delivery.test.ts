import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { PartialFailureError, PermanentError, RetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createExporter, type ExporterHelperConfig, type PushTarget } from '../../src/helpers/exporter.js';
import { BatchProcessor } from '../../src/processors/batch/index.js';
import { testRegistry } from '../support/capture.js';
import { testHost as host, tmp } from '../support/index.js';

async function helperConfig(extra = ''): Promise<ExporterHelperConfig> {
  const yaml = `receivers: { file: { include: [x] } }
exporters:
  file:
    path: out
    layout: rrpipe
    retry_on_failure: { initial_interval: 5ms, max_interval: 20ms, max_elapsed_time: 2s }
${extra}
service: { pipelines: { logs: { receivers: [file], exporters: [file] } } }`;
  const cfg = await loadConfig(['c.yaml'], { registry: await testRegistry(), texts: { 'c.yaml': yaml }, env: {} });
  return cfg.components.exporters.get("file")!.config as unknown as ExporterHelperConfig;
}

const recs = (n: number): RecordBatch => Array.from({ length: n }, (_, i) => newRecord({ uuid: `r${i}`, ts: '2025-03-18T00:00:00Z' }));

async function exporterWith(target: PushTarget, cfgExtra = '') {
  const t = new Telemetry({ processMetrics: false });
  const dir = tmp();
  const config = await helperConfig(cfgExtra);
  const e = createExporter({ id: 'x', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('x', 'exporter'), configDir: '.' }, target);
  await e.start(host(dir));
  return { e, t, dir };
}

function deadLetters(dir: string): { reason: string; rrpair: { uuid: string } }[] {
  const d = join(dir, 'dead_letter');
  return readdirSync(d).flatMap((f) => readFileSync(join(d, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
}

describe('exporter helper', () => {
  it('retries retryable failures with backoff until delivered', async () => {
    let calls = 0;
    const got: string[] = [];
    const { e, t } = await exporterWith({
      async push(b) {
        if (++calls < 4) throw new RetryableError('503 from backend');
        got.push(...b.map((r) => r.rrpair.uuid!));
      },
    });
    await e.consume(recs(5), {});
    await e.shutdown(AbortSignal.timeout(5000));
    expect(calls).toBe(4);
    expect(got).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(await t.total('sent')).toBe(5);
    expect(await t.total('failed')).toBe(15);
  });

  it('retries only the failed part of a partial failure and dead-letters permanent item failures with their reason', async () => {
    const attempts: string[][] = [];
    const { e, t, dir } = await exporterWith({
      async push(b) {
        attempts.push(b.map((r) => r.rrpair.uuid!));
        if (attempts.length === 1) {
          throw new PartialFailureError([
            { index: 1, reason: 'es_rejected_execution_exception', retryable: true },
            { index: 3, reason: 'mapper_parsing_exception: field [ts] of type [date]', retryable: false },
          ]);
        }
      },
    });
    await e.consume(recs(5), {});
    await e.shutdown(AbortSignal.timeout(5000));
    expect(attempts).toEqual([['r0', 'r1', 'r2', 'r3', 'r4'], ['r1']]);
    expect(await t.total('sent')).toBe(4); // r0 r2 r4 on the first attempt, r1 on the retry
    const dl = deadLetters(dir);
    expect(dl.map((d) => d.rrpair.uuid)).toEqual(['r3']);
    expect(dl[0]!.reason).toMatch(/^mapper_parsing_exception/);
    expect(await t.total('dead_lettered')).toBe(1);
  });

  it('a permanent error dead-letters the batch at once; exhausted retries dead-letter with the last reason', async () => {
    const perm = await exporterWith({ push: async () => { throw new PermanentError('400 bad request: index name invalid'); } });
    await perm.e.consume(recs(2), {});
    await perm.e.shutdown(AbortSignal.timeout(1000));
    expect(deadLetters(perm.dir).map((d) => d.reason)).toEqual(['400 bad request: index name invalid', '400 bad request: index name invalid']);

    const down = await exporterWith({ push: async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); } }, '    sending_queue: { enabled: false }');
    await down.e.consume(recs(1), {});
    expect(deadLetters(down.dir)[0]!.reason).toBe('retries exhausted: connect ECONNREFUSED');
  });

  it('a hanging backend hits the timeout and is retried', async () => {
    let calls = 0;
    const { e, t } = await exporterWith({
      push: (_b, signal) => {
        calls++;
        if (calls === 1) return new Promise((_r, rej) => signal.addEventListener('abort', () => rej(new Error('aborted'))));
        return Promise.resolve();
      },
    }, '    timeout: 50ms');
    await e.consume(recs(3), {});
    await e.shutdown(AbortSignal.timeout(5000));
    expect(calls).toBe(2);
    expect(await t.total('failed', { reason: 'timeout after Nms' })).toBe(3);
    expect(await t.total('sent')).toBe(3);
  });

  it('a full queue that does not block refuses with a retryable error (backpressure)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { e } = await exporterWith({ push: () => gate }, '    sending_queue: { enabled: true, queue_size: 2, num_consumers: 1, block_on_overflow: false }');
    // Two batches fit (one being exported, one waiting); the third is refused, not dropped.
    await e.consume(recs(1), {});
    await e.consume(recs(1), {});
    await expect(e.consume(recs(1), {})).rejects.toBeInstanceOf(RetryableError);
    release();
    await e.shutdown(AbortSignal.timeout(5000));
  });
});

describe('batch processor', () => {
  it('acknowledges a sender only once its records were accepted downstream, and passes refusals back', async () => {
    const accepted: number[] = [];
    let refuse = true;
    const p = new BatchProcessor({ send_batch_size: 4, send_batch_max_size: 0, send_batch_bytes: 0, timeout: 30, max_in_flight: 2, flush_when_idle: 0, flush_when_senders_wait: false }, {
      async consume(b) {
        if (refuse) throw new RetryableError('downstream full');
        accepted.push(b.length);
      },
    });
    await expect(p.consume(recs(3), {})).rejects.toThrow('downstream full');
    refuse = false;
    let resolved = false;
    const pending = p.consume(recs(2), {}).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(resolved).toBe(false);
    await pending;
    await Promise.all([p.consume(recs(3), {}), p.consume(recs(3), {})]);
    // 3 + 3 arrive together: one batch of 6 (no send_batch_max_size).
    expect(accepted).toEqual([2, 6]);
    await p.shutdown();
  });

  it('splits by send_batch_max_size and flushes by bytes', async () => {
    const sizes: number[] = [];
    const p = new BatchProcessor({ send_batch_size: 10, send_batch_max_size: 10, send_batch_bytes: 200, timeout: 1000, max_in_flight: 4, flush_when_idle: 0, flush_when_senders_wait: false }, {
      async consume(b) {
        sizes.push(b.length);
      },
    });
    const big = recs(25).map((r) => ({ ...r, sizeHint: 10 }));
    await p.consume(big, {});
    expect(sizes.slice(0, 2)).toEqual([10, 10]);
    const heavy = recs(3).map((r) => ({ ...r, sizeHint: 100 }));
    await p.consume(heavy, {});
    await p.shutdown();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(28);
  });

  it('flush_when_idle sends a partial batch once records stop arriving, not after timeout; records that keep coming extend it', async () => {
    vi.useFakeTimers();
    try {
      const sent: number[] = [];
      const p = new BatchProcessor({ send_batch_size: 8192, send_batch_max_size: 0, send_batch_bytes: 0, timeout: 3_600_000, max_in_flight: 4, flush_when_idle: 20, flush_when_senders_wait: false }, {
        async consume(b) {
          sent.push(b.length);
        },
      });
      const acked: string[] = [];
      const a = p.consume(recs(3), {}).then(() => acked.push('a'));
      await vi.advanceTimersByTimeAsync(15);
      const b = p.consume(recs(2), {}).then(() => acked.push('b'));
      await vi.advanceTimersByTimeAsync(15); // 30 ms since the first, 15 since the last: still gathering
      expect(sent).toEqual([]);
      expect(acked).toEqual([]);
      await vi.advanceTimersByTimeAsync(10);
      await Promise.all([a, b]);
      expect(sent).toEqual([5]);
      expect(acked.sort()).toEqual(['a', 'b']);
      // Off (the default, as OTel): the partial batch waits for timeout.
      const q = new BatchProcessor({ send_batch_size: 8192, send_batch_max_size: 0, send_batch_bytes: 0, timeout: 1000, max_in_flight: 4, flush_when_idle: 0, flush_when_senders_wait: false }, {
        async consume(batch) {
          sent.push(batch.length);
        },
      });
      void q.consume(recs(4), {});
      await vi.advanceTimersByTimeAsync(999);
      expect(sent).toEqual([5]);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent).toEqual([5, 4]);
      await Promise.all([p.shutdown(), q.shutdown()]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flush_when_senders_wait sends a batch at once when every sender seen lately waits on it; fewer wait out timeout; the memory is 8 batches', async () => {
    vi.useFakeTimers();
    try {
      const sent: number[] = [];
      let refuse = false;
      const make = (on: boolean) => new BatchProcessor({ send_batch_size: 8192, send_batch_max_size: 0, send_batch_bytes: 0, timeout: 1000, max_in_flight: 4, flush_when_idle: 0, flush_when_senders_wait: on }, {
        async consume(b) {
          if (refuse) throw new RetryableError('downstream full');
          sent.push(b.length);
        },
      });
      /** `senders` requests of 3 records, 5 ms apart; how long after the first the last was acknowledged (or refused). */
      const round = async (p: BatchProcessor, senders: number) => {
        const start = Date.now();
        let last = 0;
        let settled = 0;
        const settle = () => {
          last = Date.now();
          settled++;
        };
        for (let i = 0; i < senders; i++) {
          void p.consume(recs(3), {}).then(settle, settle);
          await vi.advanceTimersByTimeAsync(5);
        }
        while (settled < senders) await vi.advanceTimersByTimeAsync(1);
        return last - start;
      };
      const p = make(true);
      // Nothing to go by yet: the first batch waits out timeout.
      expect(await round(p, 4)).toBe(1000);
      // The same 4 senders again: the 4th request completes the batch, which goes at once.
      expect(await round(p, 4)).toBe(15);
      expect(sent).toEqual([12, 12]);
      // A refused batch settles its senders too: they are not counted as waiting ever after.
      refuse = true;
      expect(await round(p, 4)).toBe(15);
      refuse = false;
      expect(await round(p, 4)).toBe(15);
      // Only 3 of the 4 come: a 4th could still join, so the batch waits out timeout ...
      expect(await round(p, 3)).toBe(1000);
      // (the batch after the last of 4 still saw those 4 open while they were being sent)
      for (let i = 0; i < 8; i++) expect(await round(p, 3)).toBe(1000);
      // ... until 4 open at once is older than the last 8 batches.
      expect(await round(p, 3)).toBe(10);
      expect(sent.slice(-3)).toEqual([9, 9, 9]);
      // Off: every partial batch waits out timeout, as OTel's does.
      const q = make(false);
      expect(await round(q, 4)).toBe(1000);
      expect(await round(q, 4)).toBe(1000);
      await Promise.all([p.shutdown(), q.shutdown()]);
    } finally {
      vi.useRealTimers();
    }
  });
});
