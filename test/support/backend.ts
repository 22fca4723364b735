import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Whether a backend's server or emulator is on this machine. Tests skip (with the reason) when it
 * is missing; `.ci/run` sets RRPIPE_FAIL_ON_SKIP=1 so that CI turns such skips into failures.
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
