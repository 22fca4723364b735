import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { AnyConsumer, Component, Item, ProcessorFactory } from '../../core/component.js';
import { duration, int, obj } from '../../config/fragments.js';
import { BackpressureError } from '../../core/errors.js';
import type { Context } from '../../core/record.js';
import type { ComponentMetrics } from '../../core/telemetry.js';

export interface MemoryLimiterConfig {
  check_interval: number;
  limit_mib: number;
  spike_limit_mib: number;
  limit_percentage: number;
  spike_limit_percentage: number;
}

/** What the limiter measures; injectable for tests. */
export interface MemoryProbe {
  /** Bytes in use: the JS heap plus off-heap buffers. */
  used(): number;
  /** Bytes the JS heap may not exceed (V8's limit), and what of it is in use. */
  heap(): { used: number; limit: number };
  /** Total memory available to the process (cgroup limit when there is one). */
  total(): number;
}

export const processProbe: MemoryProbe = {
  used: () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  },
  heap: () => {
    const h = getHeapStatistics();
    return { used: h.used_heap_size, limit: h.heap_size_limit };
  },
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
 * passes 85% of V8's heap limit, so the process never runs into "heap out of memory".
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
    const was = this.refusing;
    this.refusing = used > this.soft || heapHigh;
    const mib = (n: number) => Math.round(n / 1048576);
    this.why = heapHigh
      ? `JS heap at ${mib(heap.used)} MiB of its ${mib(heap.limit)} MiB limit`
      : `memory in use ${mib(used)} MiB is above the soft limit ${mib(this.soft)} MiB`;
    if (this.refusing !== was) {
      this.refusedCtr.set(this.refusing ? 1 : 0);
      if (this.refusing) this.logger?.warn({ used_mib: mib(used), soft_limit_mib: mib(this.soft), hard_limit_mib: mib(this.hard), heap_used_mib: mib(heap.used) }, 'memory limiter: refusing data');
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

export const factory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  stability: 'beta',
  mutatesData: false,
  signals: ['logs', 'metrics'],
  description: 'Refuses data with a retryable error (backpressure) while memory use is above a soft limit.',
  schema: obj({
    check_interval: duration('1s', 'How often memory use is measured.'),
    limit_mib: int(0, 'Hard limit in MiB of memory in use (JS heap + buffers). 0: use limit_percentage.', { minimum: 0 }),
    spike_limit_mib: int(0, 'Headroom below limit_mib: data is refused above limit_mib - spike_limit_mib. 0: 20% of the limit.', { minimum: 0 }),
    limit_percentage: int(0, 'Hard limit as a percentage of the memory available (the cgroup limit in a container). Used when limit_mib is 0.', { minimum: 0, maximum: 100 }),
    spike_limit_percentage: int(0, 'Headroom as a percentage of the memory available. 0: 20% of the limit.', { minimum: 0, maximum: 100 }),
  }),
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
