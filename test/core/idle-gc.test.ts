import { describe, expect, it } from 'vitest';
import { IdleGc } from '../../src/service/idle-gc.js';

// The idle collector: a full GC once the process goes idle after a busy period, and only then.
function harness() {
  let cpu = 0;
  let gcs = 0;
  const g = new IdleGc(() => gcs++, { everyMs: 1000, cpuMs: () => cpu });
  const period = (cpuMs: number) => {
    cpu += cpuMs;
    g.tick();
  };
  return { period, gcs: () => gcs };
}

describe('IdleGc', () => {
  it('collects once when a busy period is followed by an idle one, not again while idle', () => {
    const h = harness();
    h.period(900); // 90% of a core
    h.period(500);
    expect(h.gcs()).toBe(0);
    h.period(5); // idle
    expect(h.gcs()).toBe(1);
    h.period(0);
    h.period(10);
    expect(h.gcs()).toBe(1);
    h.period(400); // busy again, then idle: once more
    h.period(0);
    expect(h.gcs()).toBe(2);
  });

  it('never collects in a process that was never busy, nor during moderate load', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.period(i % 2 ? 0 : 100); // 10% at most: neither busy nor idle enough to matter
    expect(h.gcs()).toBe(0);
    h.period(300);
    h.period(100); // 10%: not idle
    expect(h.gcs()).toBe(0);
  });

  it('a real process started with --expose-gc gets one (the service only arms it then)', async () => {
    const { idleGc } = await import('../../src/service/idle-gc.js');
    expect(idleGc() === undefined).toBe(typeof (globalThis as { gc?: unknown }).gc !== 'function');
  });
});
