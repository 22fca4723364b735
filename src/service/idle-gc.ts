/**
 * One full garbage collection once the process has gone idle after a burst of work. Node gives V8
 * no idle time to collect in, so a heap that grew under a load spike (and the native buffers its
 * dead objects still hold) can stay that size for as long as nothing else allocates: the OTLP
 * admission bench kept about 100 MB of heap and 100 MB of Buffers 30 s after the load, in one run
 * of two. Active only when the runtime exposes `gc` (`node --expose-gc`, or
 * `NODE_OPTIONS=--expose-gc` as the container image sets); without it rrpipe behaves as before.
 */
export class IdleGc {
  private timer?: NodeJS.Timeout;
  private lastCpuMs: number;
  private busySinceGc = false;
  collections = 0;

  constructor(
    private readonly gc: () => void,
    private readonly opts: { everyMs?: number; busyShare?: number; idleShare?: number; cpuMs?: () => number } = {},
  ) {
    this.lastCpuMs = this.cpuMs();
  }

  private cpuMs(): number {
    if (this.opts.cpuMs) return this.opts.cpuMs();
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.everyMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One period: busy (≥ 20% of a core) arms it; idle (≤ 2%) after busy collects once. */
  tick(): void {
    const now = this.cpuMs();
    const share = (now - this.lastCpuMs) / (this.opts.everyMs ?? 5000);
    this.lastCpuMs = now;
    if (share >= (this.opts.busyShare ?? 0.2)) this.busySinceGc = true;
    else if (share <= (this.opts.idleShare ?? 0.02) && this.busySinceGc) {
      this.busySinceGc = false;
      this.gc();
      this.collections++;
    }
  }
}

/** The idle collector when the runtime exposes gc, else undefined. */
export function idleGc(): IdleGc | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? new IdleGc(gc as () => void) : undefined;
}
