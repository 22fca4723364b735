import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty directory under the OS temp dir. */
export function tmp(prefix = 'rrpipe-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A new empty directory and the function that removes it. */
export function tmpDir(prefix = 'rrpipe-test-'): { dir: string; cleanup(): void } {
  const dir = tmp(prefix);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
