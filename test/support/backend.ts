import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether a backend's server or emulator is on this machine. Tests skip (with the reason) when it
 * is missing; `.ci/run` sets RRPIPE_FAIL_ON_SKIP=1 so that CI turns such skips into failures.
 * `.ci/setup.d/` installs (or checks for) every one of them.
 */
export function haveBinary(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A skip reason when the binary is missing, or undefined. Use with `describe.skipIf(missing(...))`. */
export function missing(name: string, hint: string): string | undefined {
  if (haveBinary(name)) return undefined;
  const why = `${name} is not installed (${hint})`;
  console.warn(`SKIP: ${why}`);
  return why;
}

/**
 * A PostgreSQL server program (initdb, pg_ctl, postgres): from PATH, else from Debian's
 * /usr/lib/postgresql/<version>/bin (newest first), where `apt-get install postgresql` puts them
 * without linking them onto PATH. The bare name when found nowhere (so `missing` reports it).
 */
export function pgBin(name: 'initdb' | 'pg_ctl' | 'postgres'): string {
  if (haveBinary(name)) return name;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** The Google Cloud CLI's Bigtable emulator (package google-cloud-cli-bigtable-emulator). */
export function bigtableEmulator(): string {
  const candidates = [process.env.CBTEMULATOR, '/usr/lib/google-cloud-sdk/platform/bigtable-emulator/cbtemulator', '/usr/share/google-cloud-sdk/platform/bigtable-emulator/cbtemulator'];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? 'cbtemulator';
}
