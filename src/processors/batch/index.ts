import type { AnyConsumer, Component, Item, ProcessorFactory } from '../../core/component.js';
import { bool, bytes, duration, int, obj, type Config } from '../../config/fragments.js';
import { ShutdownError } from '../../core/errors.js';
import { itemSize } from '../../core/metric.js';
import type { Context } from '../../core/record.js';

/** Batches whose peak of waiting senders flush_when_senders_wait remembers. */
const RECENT_BATCHES = 8;

/** One consume() call waiting for all the batches its records went into. */
interface Ticket {
  parts: number;
  settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Groups records into batches by count, bytes and time. Unlike a fire-and-forget batcher, a
 * caller's consume() resolves only when every batch holding its records has been accepted
 * downstream, so acknowledgement and backpressure pass through it.
 */
export class BatchProcessor implements Component, AnyConsumer {
  private pending: Item[] = [];
  private pendingTickets: Ticket[] = [];
  private pendingBytes = 0;
  private timer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly flushes = new Set<Promise<void>>();
  private stopped = false;
  /** consume() calls not yet settled: waiting in the pending batch, or in one being sent. */
  private open = 0;
  /** The most calls open at once since the last flush. */
  private openPeak = 0;
  /** openPeak of the last RECENT_BATCHES batches: how many senders wait at once lately. */
  private readonly peaks = new Uint32Array(RECENT_BATCHES);
  private peakAt = 0;

  constructor(private readonly cfg: BatchConfig, private readonly next: AnyConsumer) {}

  async start(): Promise<void> {}

  consume(batch: Item[], ctx: Context): Promise<void> {
    if (this.stopped) return Promise.reject(new ShutdownError('batch processor is shutting down'));
    if (batch.length === 0) return Promise.resolve();
    if (++this.open > this.openPeak) this.openPeak = this.open;
    const settled = () => void this.open--;
    return new Promise<void>((resolve, reject) => {
      const ticket: Ticket = { parts: 0, settled: false, resolve: () => (settled(), resolve()), reject: (err) => (settled(), reject(err)) };
      let i = 0;
      while (i < batch.length) {
        const room = this.cfg.send_batch_max_size > 0 ? this.cfg.send_batch_max_size - this.pending.length : batch.length - i;
        const take = Math.max(1, Math.min(room, batch.length - i));
        for (let j = 0; j < take; j++) {
          const r = batch[i + j]!;
          this.pending.push(r);
          if (this.cfg.send_batch_bytes > 0) this.pendingBytes += itemSize(r);
        }
        i += take;
        if (this.pendingTickets[this.pendingTickets.length - 1] !== ticket) {
          this.pendingTickets.push(ticket);
          ticket.parts++;
        }
        if (this.full()) this.flush(ctx);
      }
      if (this.pending.length > 0 && this.everySenderWaits()) this.flush(ctx);
      if (this.pending.length > 0 && !this.timer) {
        this.timer = setTimeout(() => this.flush({}), this.cfg.timeout);
      }
      if (this.pending.length > 0 && this.cfg.flush_when_idle > 0) {
        if (this.idleTimer) this.idleTimer.refresh();
        else this.idleTimer = setTimeout(() => this.flush({}), this.cfg.flush_when_idle);
      }
    });
  }

  private full(): boolean {
    if (this.pending.length >= this.cfg.send_batch_size) return true;
    if (this.cfg.send_batch_max_size > 0 && this.pending.length >= this.cfg.send_batch_max_size) return true;
    return this.cfg.send_batch_bytes > 0 && this.pendingBytes >= this.cfg.send_batch_bytes;
  }

  /**
   * flush_when_senders_wait: the pending batch holds as many waiting consume() calls as were ever
   * open at once over the recent batches, so every sender seen lately is waiting for this batch
   * to be acknowledged and nothing more is coming; waiting out `timeout` would only stall them.
   */
  private everySenderWaits(): boolean {
    if (!this.cfg.flush_when_senders_wait) return false;
    let recent = 0;
    for (const p of this.peaks) if (p > recent) recent = p;
    return recent > 0 && this.pendingTickets.length >= recent;
  }

  private flush(ctx: Context): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (this.pending.length === 0) return;
    this.peaks[this.peakAt] = this.openPeak;
    this.peakAt = (this.peakAt + 1) % RECENT_BATCHES;
    this.openPeak = this.open;
    const records = this.pending;
    const tickets = this.pendingTickets;
    this.pending = [];
    this.pendingTickets = [];
    this.pendingBytes = 0;
    const p = this.send(records, tickets, ctx);
    this.flushes.add(p);
    void p.finally(() => this.flushes.delete(p));
  }

  private async send(records: Item[], tickets: Ticket[], ctx: Context): Promise<void> {
    while (this.inFlight >= this.cfg.max_in_flight) await new Promise<void>((r) => this.slotWaiters.push(r));
    this.inFlight++;
    try {
      await this.next.consume(records, { metadata: ctx.metadata, receiver: ctx.receiver });
      for (const t of tickets) {
        if (--t.parts === 0 && !t.settled) {
          t.settled = true;
          t.resolve();
        }
      }
    } catch (err) {
      for (const t of tickets) {
        if (!t.settled) {
          t.settled = true;
          t.reject(err);
        }
      }
    } finally {
      this.inFlight--;
      this.slotWaiters.shift()?.();
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.flush({});
    while (this.flushes.size) await Promise.all([...this.flushes]);
  }
}

const schema = obj({
  send_batch_size: int(8192, 'Send a batch once it holds this many records.', { minimum: 1 }),
  send_batch_max_size: int(0, 'Never send more records than this in one batch (0: no cap).', { minimum: 0 }),
  send_batch_bytes: bytes(0, 'Send a batch once its records add up to this size (0: off).'),
  timeout: duration('200ms', 'Send a non-empty batch after this long, full or not.'),
  max_in_flight: int(4, 'Batches handed downstream at once; more wait (backpressure).', { minimum: 1 }),
  flush_when_senders_wait: bool(true, 'rrpipe: also send a non-empty batch at once when it holds a record of every sender seen lately (as many waiting requests as were open at once over the last 8 batches): those senders wait for this batch to be acknowledged, so nothing more would come from them before timeout. A lone sender that waits for each acknowledgement and sends often gets a batch per request (the README says when batches differ from those of OTel); false waits out timeout as OTel does.'),
  flush_when_idle: duration('0s', 'rrpipe: also send a non-empty batch once no record has arrived for this long (0: off, as OTel). For senders that wait for acknowledgement.'),
});

export type BatchConfig = Config<typeof schema>;

export const factory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  stability: 'stable',
  mutatesData: false,
  signals: ['logs', 'metrics'],
  description: 'Groups records into batches by count, bytes and time; acknowledges only what downstream accepted.',
  schema,
  validate: (c) =>
    c.send_batch_max_size > 0 && c.send_batch_max_size < c.send_batch_size
      ? [{ path: ['send_batch_max_size'], message: 'send_batch_max_size must be 0 or at least send_batch_size' }]
      : [],
  create: (s, next) => new BatchProcessor(s.config, next),
};
