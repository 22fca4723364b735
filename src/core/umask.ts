import { isMainThread } from 'node:worker_threads';

/** Files 0600 and folders 0700: what rrpipe writes (captures, queues, stores) is its user's alone. */
export const DEFAULT_UMASK = 0o077;

/**
 * Set the process umask, so that every file and folder rrpipe creates (outbox, archive, SQLite
 * store and its WAL, queue segments, dead letters, checkpoints, CA keys) gets owner-only modes
 * without each writer having to remember. `service.umask` changes it (e.g. "027" lets a group read).
 * Worker threads cannot set it (the main thread's applies to them).
 */
export function applyUmask(mask: number | string | undefined): void {
  if (!isMainThread) return;
  process.umask(parseUmask(mask));
}

export function parseUmask(mask: number | string | undefined): number {
  if (mask === undefined) return DEFAULT_UMASK;
  if (typeof mask === 'number') return mask & 0o777;
  if (!/^0?[0-7]{3}$/.test(mask)) throw new Error(`invalid umask "${mask}" (expected three octal digits, e.g. "077")`);
  return parseInt(mask, 8);
}
