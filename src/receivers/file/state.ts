import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where reading of one file stands. Files are known by device+inode, checked against their first bytes. */
export interface FileState {
  path: string;
  /** Bytes of the file (decompressed bytes for .gz) already delivered. */
  offset: number;
  /** Lines already delivered, for error messages that name the line. */
  line: number;
  /** sha256 of the file's first bytes (up to 1 KiB) when first seen. */
  fingerprint: string;
  fingerprintLen: number;
  /** A compressed file read to its end: nothing more will come. */
  done?: boolean;
}

export interface Checkpoint {
  version: 1;
  files: Record<string, FileState>;
}

/** The receiver's offsets on disk, written atomically (temp file + rename) after each acknowledged batch. */
export class CheckpointStore {
  constructor(readonly path: string | undefined) {}

  load(): Checkpoint {
    if (!this.path) return { version: 1, files: {} };
    try {
      const v = JSON.parse(readFileSync(this.path, 'utf8')) as Checkpoint;
      if (v?.version === 1 && v.files && typeof v.files === 'object') return v;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`unreadable checkpoint ${this.path}: ${(err as Error).message}`);
    }
    return { version: 1, files: {} };
  }

  save(cp: Checkpoint): void {
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(cp));
    renameSync(tmp, this.path);
  }
}
