import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { AnyConsumer, Component, Item, ProcessorFactory } from '../../core/component.js';
import { duration, int, obj, type Config } from '../../config/fragments.js';
import { BackpressureError } from '../../core/errors.js';
import { threadMemory, type ThreadHeap } from '../../core/thread-memory.js';
import type { Context } from '../../core/record.js';
import type { ComponentMetrics } from '../../core/telemetry.js';

/** What the limiter measures; injectable for tests. */
export interface MemoryProbe {
  /** Bytes in use: the JS heaps (the event loop's and its worker threads') plus off-heap buffers. */
  used(): number;
  /** Bytes the event loop's JS heap may not exceed (V8's limit), and what of it is in use. */
  heap(): { used: number; limit: number };
  /** Worker threads' heaps, each with its own V8 limit (none when absent). */
  threads?(): ThreadHeap[];
  /** Total memory available to the process (cgroup limit when there is one). */
  total(): number;
}

export const processProbe: MemoryProbe = {
  used: () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external + threadMemory.used();
  },
  heap: () => {
    const h = getHeapStatistics();
    return { used: h.used_heap_size, limit: h.heap_size_limit };
  },
  threads: () => threadMemory.threads(),
  total: () => cgroupLimit() ?? totalmem(),
};

function cgroupLimit(): number | undefined {
  for (const f of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = readFileSync(f, 'utf8').trim();
      const n = Number(v);
      if (v !== 'max' && Number.isFinite(n) && n > 0 && n < totalmem()) return n;
    } catch {
      // not in a cgroup with a limit
    }
  }
  return undefined;
}

/** The share of V8's heap limit above which data is refused whatever the config says. */
const HEAP_GUARD = 0.85;

/**
 * Refuses data (BackpressureError, which receivers answer with 429/503/RESOURCE_EXHAUSTED)
 * while memory use is above the soft limit (limit - spike), as the OTel Collector's
 * memory_limiter does; above the hard limit it also asks for a garbage collection when the
 * runtime allows it (--expose-gc). Independently of the config, it refuses once the JS heap
 * (the event loop's, or a worker thread's) passes 85% of its V8 heap limit, so the process never
 * runs into "heap out of memory". Worker threads' heaps (redaction's pool) count as they reported
 * them last (core/thread-memory.ts).
 */
export class MemoryLimiter implements Component, AnyConsumer {
  private timer?: NodeJS.Timeout;
  private refusing = false;
  private readonly hard: number;
  private readonly soft: number;
  private why = '';
  private readonly refusedCtr;

  constructor(
    cfg: MemoryLimiterConfig,
    private readonly next: AnyConsumer,
    private readonly metrics: ComponentMetrics,
    private readonly logger?: { warn(o: object, m: string): void; info(o: object, m: string): void },
    private readonly probe: MemoryProbe = processProbe,
    private readonly interval = cfg.check_interval,
  ) {
    const total = probe.total();
    const mib = 1024 * 1024;
    this.hard = cfg.limit_mib > 0 ? cfg.limit_mib * mib : cfg.limit_percentage > 0 ? (total * cfg.limit_percentage) / 100 : Infinity;
    const spike = cfg.limit_mib > 0
      ? (cfg.spike_limit_mib > 0 ? cfg.spike_limit_mib * mib : this.hard * 0.2)
      : cfg.spike_limit_percentage > 0 ? (total * cfg.spike_limit_percentage) / 100 : this.hard * 0.2;
    this.soft = this.hard - spike;
    this.refusedCtr = metrics.gauge('memory_limiter_refusing', 'Whether the memory limiter is refusing data (1) or not (0).');
  }

  get limits(): { soft: number; hard: number } {
    return { soft: this.soft, hard: this.hard };
  }

  get isRefusing(): boolean {
    return this.refusing;
  }

  async start(): Promise<void> {
    this.check();
    this.timer = setInterval(() => this.check(), Math.max(10, this.interval));
    this.timer.unref();
  }

  /** Sample memory and decide whether to refuse. */
  check(): void {
    let used = this.probe.used();
    const heap = this.probe.heap();
    if (used > this.hard) {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        used = this.probe.used();
      }
    }
    const heapHigh = heap.used > heap.limit * HEAP_GUARD;
    // threads() lists the fullest heap first
    const thread = this.probe.threads?.()[0];
    const threadHigh = thread !== undefined && thread.heapUsed > thread.heapLimit * HEAP_GUARD;
    const was = this.refusing;
    this.refusing = used > this.soft || heapHigh || threadHigh;
    const mib = (n: number) => Math.round(n / 1048576);
    this.why = heapHigh
      ? `JS heap at ${mib(heap.used)} MiB of its ${mib(heap.limit)} MiB limit`
      : threadHigh
        ? `JS heap of worker thread ${thread.name} at ${mib(thread.heapUsed)} MiB of its ${mib(thread.heapLimit)} MiB limit`
        : `memory in use ${mib(used)} MiB is above the soft limit ${mib(this.soft)} MiB`;
    if (this.refusing !== was) {
      this.refusedCtr.set(this.refusing ? 1 : 0);
      if (this.refusing) this.logger?.warn({ used_mib: mib(used), soft_limit_mib: mib(this.soft), hard_limit_mib: mib(this.hard), heap_used_mib: mib(heap.used), reason: this.why }, 'memory limiter: refusing data');
      else this.logger?.info({ used_mib: mib(used) }, 'memory limiter: accepting data again');
    }
  }

  async consume(batch: Item[], ctx: Context): Promise<void> {
    if (this.refusing) {
      this.metrics.refused(batch.length, 'memory_limit');
      throw new BackpressureError(`memory limiter: ${this.why}`, { retryAfterMs: Math.max(1000, this.interval) });
    }
    await this.next.consume(batch, ctx);
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
}

const schema = obj({
  check_interval: duration('1s', 'How often memory use is measured.'),
  limit_mib: int(0, 'Hard limit in MiB of memory in use (JS heaps, worker threads\' too, + buffers). 0: use limit_percentage.', { minimum: 0 }),
  spike_limit_mib: int(0, 'Headroom below limit_mib: data is refused above limit_mib - spike_limit_mib. 0: 20% of the limit.', { minimum: 0 }),
  limit_percentage: int(0, 'Hard limit as a percentage of the memory available (the cgroup limit in a container). Used when limit_mib is 0.', { minimum: 0, maximum: 100 }),
  spike_limit_percentage: int(0, 'Headroom as a percentage of the memory available. 0: 20% of the limit.', { minimum: 0, maximum: 100 }),
});

export type MemoryLimiterConfig = Config<typeof schema>;

export const factory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  stability: 'beta',
  mutatesData: false,
  signals: ['logs', 'metrics'],
  description: 'Refuses data with a retryable error (backpressure) while memory use is above a soft limit.',
  schema,
  validate: (c) => {
    const out = [];
    if (c.limit_mib === 0 && c.limit_percentage === 0) out.push({ message: 'set limit_mib or limit_percentage' });
    if (c.limit_mib > 0 && c.spike_limit_mib >= c.limit_mib) out.push({ path: ['spike_limit_mib'], message: 'spike_limit_mib must be less than limit_mib' });
    if (c.limit_mib === 0 && c.limit_percentage > 0 && c.spike_limit_percentage >= c.limit_percentage) out.push({ path: ['spike_limit_percentage'], message: 'spike_limit_percentage must be less than limit_percentage' });
    if (c.check_interval <= 0) out.push({ path: ['check_interval'], message: 'check_interval must be greater than 0' });
    return out;
  },
  create: (s, next) => new MemoryLimiter(s.config, next, s.metrics, s.logger),
};
