import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackpressureError, RetryableError } from '../../src/core/errors.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import type { ThreadHeap } from '../../src/core/thread-memory.js';
import { WorkerPool } from '../../src/helpers/worker-pool.js';
import { factory, MemoryLimiter, processProbe, type MemoryProbe } from '../../src/processors/memory_limiter/index.js';
import { requireBuild } from '../support/index.js';

const MiB = 1024 * 1024;
function probe(state: { used: number; heapUsed?: number; heapLimit?: number; threads?: ThreadHeap[] }): MemoryProbe {
  return { used: () => state.used, heap: () => ({ used: state.heapUsed ?? 0, limit: state.heapLimit ?? 4096 * MiB }), total: () => 1000 * MiB, threads: () => state.threads ?? [] };
}
const cfg = { check_interval: 1000, limit_mib: 100, spike_limit_mib: 20, limit_percentage: 0, spike_limit_percentage: 0 };
const batch = (): RecordBatch => [newRecord({ uuid: 'a' } as never)];

describe('memory_limiter', () => {
  it('passes data below the soft limit, refuses with a retryable BackpressureError above it, recovers when memory falls', async () => {
    const state = { used: 50 * MiB };
    const got: RecordBatch[] = [];
    const t = new Telemetry({ processMetrics: false });
    const m = new MemoryLimiter(cfg, { consume: async (b) => void got.push(b) }, t.forComponent('memory_limiter', 'processor', 'logs'), undefined, probe(state));
    await m.start();
    await m.consume(batch(), {});
    expect(got).toHaveLength(1);
    state.used = 85 * MiB; // above soft (80), below hard (100): refuse before the hard limit is reached
    m.check();
    const err = await m.consume(batch(), {}).catch((e) => e);
    expect(err).toBeInstanceOf(BackpressureError);
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(got).toHaveLength(1);
    expect(await t.total('refused', { reason: 'memory_limit' })).toBe(1);
    state.used = 60 * MiB;
    m.check();
    await m.consume(batch(), {});
    expect(got).toHaveLength(2);
    await m.shutdown();
  });

  it('refuses when the JS heap nears V8 heap limit, whatever limit_mib says', async () => {
    const state = { used: 10 * MiB, heapUsed: 900 * MiB, heapLimit: 1000 * MiB };
    const m = new MemoryLimiter({ ...cfg, limit_mib: 100_000, spike_limit_mib: 0 }, { consume: async () => {} }, new Telemetry({ processMetrics: false }).forComponent('ml', 'processor'), undefined, probe(state));
    m.check();
    await expect(m.consume(batch(), {})).rejects.toThrow(/heap/);
  });

  it('refuses when a worker thread\'s heap nears its own V8 limit, and says which thread', async () => {
    const thread = (heapUsed: number): ThreadHeap => ({ name: 'redaction redaction-1', heapUsed: heapUsed * MiB, external: 0, heapLimit: 1000 * MiB });
    const state = { used: 10 * MiB, heapUsed: 100 * MiB, heapLimit: 1000 * MiB, threads: [thread(500)] };
    const m = new MemoryLimiter({ ...cfg, limit_mib: 100_000, spike_limit_mib: 0 }, { consume: async () => {} }, new Telemetry({ processMetrics: false }).forComponent('ml', 'processor'), undefined, probe(state));
    m.check();
    await m.consume(batch(), {});
    state.threads = [thread(900)];
    m.check();
    await expect(m.consume(batch(), {})).rejects.toThrow(/worker thread redaction redaction-1 at 900 MiB of its 1000 MiB limit/);
    state.threads = [];
    m.check();
    await m.consume(batch(), {});
  });

  it('counts the heaps of real worker threads: a worker holding memory pushes use past the soft limit; once it stops, data flows again', async () => {
    requireBuild(); // the pool's workers run from dist/
    const pool = new WorkerPool({ module: pathToFileURL(join(import.meta.dirname, '../processors/worker-pool-fixture.mjs')), factory: 'echo', init: {}, size: 1, name: 'limiter-test' });
    try {
      await pool.start();
      const base = processProbe.used();
      // soft limit 50 MiB above what is in use now, the worker's heap included
      const m = new MemoryLimiter({ ...cfg, limit_mib: Math.ceil(base / MiB) + 100, spike_limit_mib: 50 }, { consume: async () => {} }, new Telemetry({ processMetrics: false }).forComponent('ml', 'processor'));
      m.check();
      expect(m.isRefusing).toBe(false);
      await pool.run({ id: 1, retainMb: 120 }); // kept on the worker's heap, not the event loop's
      expect(process.memoryUsage().heapUsed + process.memoryUsage().external).toBeLessThan(base + 50 * MiB);
      m.check();
      expect(m.isRefusing).toBe(true);
      await expect(m.consume(batch(), {})).rejects.toThrow(/memory in use \d+ MiB is above the soft limit/);
      await pool.close();
      m.check();
      expect(m.isRefusing).toBe(false);
    } finally {
      await pool.close();
    }
  });

  it('computes limits from percentages of the available memory', () => {
    const m = new MemoryLimiter({ ...cfg, limit_mib: 0, spike_limit_mib: 0, limit_percentage: 50, spike_limit_percentage: 10 }, { consume: async () => {} }, new Telemetry({ processMetrics: false }).forComponent('ml', 'processor'), undefined, probe({ used: 0 }));
    expect(m.limits.hard).toBe(500 * MiB);
    expect(m.limits.soft).toBe(400 * MiB);
  });

  it('validates its config', () => {
    expect(factory.validate!({ ...cfg, limit_mib: 0 })).toEqual([{ message: 'set limit_mib or limit_percentage' }]);
    expect(factory.validate!({ ...cfg, spike_limit_mib: 100 })[0]!.path).toEqual(['spike_limit_mib']);
  });

  it('measures the real process: a refusal happens before a real allocation spike exhausts the limit', async () => {
    const base = process.memoryUsage();
    const limitMib = Math.ceil((base.heapUsed + base.external) / MiB) + 60;
    const m = new MemoryLimiter({ ...cfg, limit_mib: limitMib, spike_limit_mib: 30 }, { consume: async () => {} }, new Telemetry({ processMetrics: false }).forComponent('ml', 'processor'));
    m.check();
    expect(m.isRefusing).toBe(false);
    const hog = Buffer.alloc(45 * MiB, 1);
    m.check();
    expect(m.isRefusing).toBe(true);
    expect(hog.length).toBe(45 * MiB);
  });
});
