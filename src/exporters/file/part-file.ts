import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, rename, rm, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGunzip, gzip as gzipCb, constants as zc } from 'node:zlib';
import { promisify } from 'node:util';

const gzip = promisify(gzipCb);
const PARTIAL = '.partial';

/**
 * zlib's output chunk for gzipping `n` bytes. With the default 16 KiB, a batch of megabytes comes
 * back from the thread pool in a hundred rounds, each a callback, a new buffer and a copy on the
 * event loop; chunks of a quarter of the input (at most 1 MiB) take a few (the bytes are the same).
 */
function gzipChunkSize(n: number): number {
  return Math.min(Math.max(zc.Z_DEFAULT_CHUNK, n >>> 2), 1 << 20);
}

/** Split "rrpairs.jsonl.gz" into "rrpairs" and ".jsonl.gz". */
function splitExt(name: string): [string, string] {
  const i = name.indexOf('.', 1);
  return i < 0 ? [name, ''] : [name.slice(0, i), name.slice(i)];
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * A file being written. It lives as a hidden ".<name>.partial" beside its final name and is
 * renamed when finished, so a reader of the directory never sees a half-written file.
 * Gzip output is a series of gzip members, one per write: each write is complete on disk
 * when it resolves, and the file is a valid gzip stream (RFC 1952 allows several members).
 */
export class PartFile {
  size = 0;
  records = 0;
  readonly openedAt = Date.now();
  lastWriteAt = Date.now();
  private chain: Promise<void> = Promise.resolve();
  private dirty = false;
  private finished = false;

  private constructor(readonly finalPath: string, readonly partPath: string, private readonly fh: FileHandle, private readonly gz: boolean) {}

  /** Open a new part file for a rendered path; the final name gets a timestamp and a random suffix. */
  static async create(renderedPath: string, gz: boolean): Promise<PartFile> {
    const dir = dirname(renderedPath);
    mkdirSync(dir, { recursive: true });
    const [stem, ext] = splitExt(basename(renderedPath));
    const finalName = `${stem}-${stamp(new Date())}-${randomBytes(4).toString('hex')}${ext}`;
    const partPath = join(dir, `.${finalName}${PARTIAL}`);
    const fh = await open(partPath, 'wx');
    return new PartFile(join(dir, finalName), partPath, fh, gz);
  }

  /** Append; resolves when the bytes are written to the file (in the OS, not yet fsynced). */
  write(data: Buffer, records: number): Promise<void> {
    if (this.finished) return Promise.reject(new Error(`${this.partPath} is already finished`));
    const p = this.chain.then(async () => {
      const bytes = this.gz ? await gzip(data, { level: zc.Z_DEFAULT_COMPRESSION, chunkSize: gzipChunkSize(data.length) }) : data;
      await this.fh.write(bytes);
      this.size += bytes.length;
      this.records += records;
      this.lastWriteAt = Date.now();
      this.dirty = true;
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** fsync what was written. Runs in the same chain as writes and finish, so it never meets a closed file. */
  sync(): Promise<void> {
    const p = this.chain.then(async () => {
      if (this.finished || !this.dirty) return;
      this.dirty = false;
      await this.fh.sync();
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** fsync, close and rename to the final name. An empty file is removed instead. Once, however often it is asked. */
  finish(): Promise<string | undefined> {
    return (this.finishing ??= this.close());
  }

  private finishing?: Promise<string | undefined>;

  private async close(): Promise<string | undefined> {
    this.finished = true;
    await this.chain;
    if (this.records === 0) {
      await this.fh.close();
      await rm(this.partPath, { force: true });
      return undefined;
    }
    await this.fh.sync();
    await this.fh.close();
    await rename(this.partPath, this.finalPath);
    return this.finalPath;
  }
}

/**
 * Finish part files left by a crash: keep every complete line (a torn last line or gzip member
 * is cut off) and rename to the final name. Returns the files recovered and the bytes cut.
 */
export async function recoverPartFiles(baseDir: string): Promise<{ recovered: string[]; cutBytes: number }> {
  const recovered: string[] = [];
  let cutBytes = 0;
  for (const path of walk(baseDir)) {
    const name = basename(path);
    if (!name.startsWith('.') || !name.endsWith(PARTIAL)) continue;
    const finalPath = join(dirname(path), name.slice(1, -PARTIAL.length));
    const raw = await readFile(path);
    const gz = finalPath.endsWith('.gz');
    const text = gz ? await gunzipWhatCanBeRead(raw) : raw;
    const lastNl = text.lastIndexOf(10);
    const keep = lastNl < 0 ? Buffer.alloc(0) : text.subarray(0, lastNl + 1);
    cutBytes += text.length - keep.length;
    if (keep.length === 0) {
      await rm(path, { force: true });
      continue;
    }
    if (gz || keep.length !== raw.length) await writeFile(path, gz ? await gzip(keep) : keep);
    await rename(path, finalPath);
    recovered.push(finalPath);
  }
  return { recovered, cutBytes };
}

function* walk(dir: string): Generator<string> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

function gunzipWhatCanBeRead(raw: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const g = createGunzip({ finishFlush: zc.Z_SYNC_FLUSH });
    g.on('data', (d: Buffer) => out.push(d));
    g.on('error', () => resolve(Buffer.concat(out)));
    g.on('end', () => resolve(Buffer.concat(out)));
    g.end(raw);
  });
}

/** Delete finished files beside `finalPath` (same stem and extension) older than maxDays or beyond the newest maxBackups. */
export async function applyRetention(finalPath: string, maxDays: number, maxBackups: number): Promise<number> {
  if (maxDays <= 0 && maxBackups <= 0) return 0;
  const dir = dirname(finalPath);
  const [stem, ext] = splitExt(basename(finalPath));
  const base = stem.replace(/-\d{8}T\d{6}Z-[0-9a-f]{8}$/, '');
  const files = readdirSync(dir)
    .filter((n) => n.startsWith(`${base}-`) && n.endsWith(ext) && /-\d{8}T\d{6}Z-[0-9a-f]{8}\./.test(n))
    .map((n) => ({ path: join(dir, n), mtime: statSync(join(dir, n)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  const cutoff = Date.now() - maxDays * 86_400_000;
  let removed = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    if ((maxBackups > 0 && i >= maxBackups) || (maxDays > 0 && f.mtime < cutoff)) {
      await rm(f.path, { force: true });
      removed++;
    }
  }
  return removed;
}
