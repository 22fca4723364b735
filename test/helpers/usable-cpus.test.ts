import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupQuota, usableCpus } from '../../src/helpers/usable-cpus.js';
import { poolSize } from '../../src/helpers/worker-pool.js';
import { tmp } from '../support/index.js';

function cgroup(files: Record<string, string>): string {
  const root = tmp('cgroup');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), `${text}\n`);
  }
  return root;
}

describe('usable CPUs', () => {
  it('reads the cgroup CPU quota (v2 cpu.max, else v1 cfs), rounds it up, and never goes past the CPUs it may run on', () => {
    expect(cgroupQuota(cgroup({ 'cpu.max': 'max 100000' }))).toBeUndefined();
    expect(cgroupQuota(cgroup({ 'cpu.max': '150000 100000' }))).toBe(1.5);
    expect(cgroupQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined();
    expect(cgroupQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '50000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(0.5);
    expect(cgroupQuota(cgroup({}))).toBeUndefined();
    expect(usableCpus(cgroup({ 'cpu/cpu.cfs_quota_us': '50000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(1);
    expect(usableCpus(cgroup({ 'cpu.max': '150000 100000' }))).toBe(Math.min(2, availableParallelism()));
    expect(usableCpus(cgroup({ 'cpu.max': '6400000 100000' }))).toBe(availableParallelism());
    expect(usableCpus(cgroup({}))).toBe(availableParallelism());
  });

  it('workers: auto is one per usable CPU, none on 1, at most 8; a number is taken as it is', () => {
    expect([1, 2, 3, 8, 9, 64].map((cpus) => poolSize('auto', cpus))).toEqual([0, 2, 3, 8, 8, 8]);
    expect(poolSize(3, 1)).toBe(3);
    expect(poolSize(0, 16)).toBe(0);
  });
});
