import type { Logger } from 'pino';

/**
 * Logs refused lines at most `max` per interval (a minute); the others are counted, and their
 * number is logged once the interval is over, so a burst of bad input neither floods the log nor
 * silences it for good (a lifetime cap did). Every refused line is counted in the metrics anyway.
 */
export class RefusalLog {
  private windowStart = -Infinity;
  private logged = 0;
  private unlogged = 0;

  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    private readonly dest: () => string,
    private readonly max = 20,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  refused(fields: { file: string; line: number; reason: string }): void {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.flush();
      this.windowStart = t;
      this.logged = 0;
    }
    if (this.logged < this.max) {
      this.logged++;
      this.log.warn({ ...fields, dead_letter: this.dest() }, 'refused a line');
    } else if (this.unlogged++ === 0) {
      this.log.warn({ max_per_minute: this.max }, `more refused lines; logging at most ${this.max} a minute, then how many were not (see rrpipe_records_dead_lettered_total)`);
    }
  }

  /** Log how many refused lines went unlogged, once their interval is over (or now, when `final`). */
  flush(final = false): void {
    if (this.unlogged === 0 || (!final && this.now() - this.windowStart < this.intervalMs)) return;
    this.log.warn({ refused_not_logged: this.unlogged, dead_letter: this.dest() }, `${this.unlogged} more refused line(s) were dead-lettered without being logged one by one`);
    this.unlogged = 0;
  }
}
