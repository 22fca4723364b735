import type { ExporterHelperConfig } from '../config/fragments.js';

export type RetryConfig = ExporterHelperConfig['retry_on_failure'];

/** Exponential backoff with jitter, as the OTel Collector's configretry computes it. */
export class Backoff {
  private interval: number;
  private readonly startedAt = Date.now();
  constructor(private readonly cfg: RetryConfig) {
    this.interval = cfg.initial_interval;
  }

  /** The next wait in ms, or undefined when max_elapsed_time is spent. */
  next(hintMs?: number): number | undefined {
    const elapsed = Date.now() - this.startedAt;
    if (this.cfg.max_elapsed_time > 0 && elapsed >= this.cfg.max_elapsed_time) return undefined;
    const r = this.cfg.randomization_factor;
    const jittered = this.interval * (1 - r + Math.random() * 2 * r);
    this.interval = Math.min(this.interval * this.cfg.multiplier, this.cfg.max_interval);
    let wait = Math.max(hintMs ?? 0, jittered);
    if (this.cfg.max_elapsed_time > 0) wait = Math.min(wait, Math.max(0, this.cfg.max_elapsed_time - elapsed));
    return wait;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
