import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPUs this process may use: the CPUs it may run on (availableParallelism), or fewer when its
 * cgroup has a CPU quota (a Kubernetes CPU limit), rounded up. Node 20's availableParallelism
 * reads only the CPU affinity, so a pod limited to 1 CPU on a 32-core node would see 32; this
 * reads the quota as Go's runtime and automaxprocs do (cgroup v2 cpu.max, else v1 cfs_quota_us).
 */
export function usableCpus(root = '/sys/fs/cgroup'): number {
  const cpus = availableParallelism();
  const quota = cgroupQuota(root);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

/** The cgroup's CPU quota in CPUs, or undefined when there is none (or no cgroup to read). */
export function cgroupQuota(root: string): number | undefined {
  const v2 = read(`${root}/cpu.max`)?.split(/\s+/);
  if (v2) return v2[0] === 'max' ? undefined : ratio(v2[0], v2[1]);
  return ratio(read(`${root}/cpu/cpu.cfs_quota_us`), read(`${root}/cpu/cpu.cfs_period_us`));
}

function ratio(quota?: string, period?: string): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
