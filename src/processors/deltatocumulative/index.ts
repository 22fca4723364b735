import type { AnyConsumer, Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { streamKey, type HistogramPoint, type MetricPoint, type SumPoint } from '../../core/metric.js';
import type { Context } from '../../core/record.js';
import { duration, int, obj, type Config } from '../../config/fragments.js';

const schema = obj({
  max_stale: duration('5m', 'A stream not updated for this long is forgotten (its next point starts a new series).'),
  max_streams: int(Number.MAX_SAFE_INTEGER, 'Most streams tracked at once; points of new streams beyond it are dropped.', { minimum: 1 }),
});

export type DeltaToCumulativeConfig = Config<typeof schema>;

interface Acc {
  startNs: bigint;
  lastNs: bigint;
  /** Date.now() of the last update, for staleness. */
  seen: number;
  value: number;
  count: number;
  counts: number[];
  bounds: number[];
  min?: number;
  max?: number;
}

type Delta = (SumPoint | HistogramPoint) & { temporality: 'delta' };

function isDelta(p: MetricPoint): p is Delta {
  return p.type !== 'gauge' && p.temporality === 'delta';
}

function sameBounds(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Turns delta sums and histograms into cumulative ones (OTel contrib's deltatocumulative):
 * each stream's total since its first point; cumulative points and gauges pass unchanged.
 * A point no newer than its stream's last one is dropped (out of order), as is a histogram whose
 * bucket bounds changed. State is bounded by `max_streams` and by `max_stale`.
 *
 * The running totals are committed only once the next stage accepted the cumulative points: a
 * batch refused downstream and retried upstream is not added twice. Batches are therefore
 * handled one at a time.
 */
export class DeltaToCumulative implements Component, Consumer<MetricPoint> {
  private readonly streams = new Map<string, Acc>();
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private readonly tracked;
  private readonly droppedCtr;

  constructor(private readonly s: CreateSettings<DeltaToCumulativeConfig>, private readonly next: AnyConsumer) {
    this.tracked = s.metrics.gauge('deltatocumulative_streams_tracked', 'Streams the deltatocumulative processor holds state for.');
    this.droppedCtr = s.metrics;
  }

  async start(): Promise<void> {
    const every = Math.max(1000, Math.min(60_000, this.s.config.max_stale));
    this.timer = setInterval(() => this.expire(Date.now()), every);
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }

  /** Forget the streams not updated within max_stale. */
  expire(now: number): void {
    for (const [k, a] of this.streams) if (now - a.seen > this.s.config.max_stale) this.streams.delete(k);
    this.tracked.set(this.streams.size);
  }

  consume(batch: MetricPoint[], ctx: Context): Promise<void> {
    const run = this.chain.then(() => this.handle(batch, ctx));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async handle(batch: MetricPoint[], ctx: Context): Promise<void> {
    const now = Date.now();
    const staged = new Map<string, Acc>();
    const out: MetricPoint[] = [];
    const drop = (reason: string) => this.droppedCtr.dropped(1, reason);
    for (const p of batch) {
      if (!isDelta(p)) {
        out.push(p);
        continue;
      }
      const key = streamKey(p);
      let prev = staged.get(key) ?? this.streams.get(key);
      if (prev && now - prev.seen > this.s.config.max_stale) prev = undefined;
      if (!prev && this.streams.size + staged.size >= this.s.config.max_streams && !this.streams.has(key)) {
        drop('stream_limit');
        continue;
      }
      if (prev && p.timeNs <= prev.lastNs) {
        drop('out_of_order');
        continue;
      }
      let acc: Acc;
      if (p.type === 'sum') {
        acc = { startNs: prev?.startNs ?? (p.startNs || p.timeNs), lastNs: p.timeNs, seen: now, value: (prev?.value ?? 0) + p.value, count: 0, counts: [], bounds: [] };
        out.push({ ...p, temporality: 'cumulative', startNs: acc.startNs, value: acc.value });
      } else {
        if (prev && !sameBounds(prev.bounds, p.bounds)) {
          drop('bounds_changed');
          continue;
        }
        const counts = p.counts.map((c, i) => c + (prev?.counts[i] ?? 0));
        const min = prev?.min === undefined ? p.min : p.min === undefined ? prev.min : Math.min(prev.min, p.min);
        const max = prev?.max === undefined ? p.max : p.max === undefined ? prev.max : Math.max(prev.max, p.max);
        acc = {
          startNs: prev?.startNs ?? (p.startNs || p.timeNs), lastNs: p.timeNs, seen: now, value: (prev?.value ?? 0) + p.sum, count: (prev?.count ?? 0) + p.count,
          counts, bounds: p.bounds, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}),
        };
        const { min: _m, max: _x, ...rest } = p;
        out.push({ ...rest, temporality: 'cumulative', startNs: acc.startNs, count: acc.count, sum: acc.value, counts, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
      }
      staged.set(key, acc);
    }
    if (out.length) await this.next.consume(out, ctx);
    for (const [k, a] of staged) this.streams.set(k, a);
    this.tracked.set(this.streams.size);
  }
}

export const factory: ProcessorFactory<DeltaToCumulativeConfig> = {
  kind: 'processor',
  type: 'deltatocumulative',
  stability: 'alpha',
  mutatesData: false,
  signals: ['metrics'],
  description: 'Converts delta sums and histograms to cumulative ones, with bounded, expiring state (OTel deltatocumulative).',
  schema,
  create: (s, next) => new DeltaToCumulative(s, next),
};
