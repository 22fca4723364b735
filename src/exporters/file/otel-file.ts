import { mkdirSync } from 'node:fs';
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzip = promisify(gzipCb);

export interface OtelRotation {
  max_megabytes: number;
  max_days: number;
  max_backups: number;
  localtime: boolean;
}

function p(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** lumberjack's backup time format "2006-01-02T15-04-05.000", in UTC unless localtime. */
export function backupStamp(d: Date, localtime: boolean): string {
  const [Y, M, D, h, m, s, ms] = localtime
    ? [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
    : [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()];
  return `${p(Y, 4)}-${p(M)}-${p(D)}T${p(h)}-${p(m)}-${p(s)}.${p(ms, 3)}`;
}

/** lumberjack's backup name: <name without its last extension>-<stamp><last extension>, beside the file. */
export function backupName(path: string, d: Date, localtime: boolean): string {
  const ext = extname(path);
  const base = basename(path, ext);
  return join(dirname(path), `${base}-${backupStamp(d, localtime)}${ext}`);
}

/**
 * The OTel Collector file exporter's output: everything goes to exactly `path` (truncated at
 * start unless `append`); with `rotation`, the file is rotated as lumberjack (the library the OTel
 * exporter uses) does: when a write would take it past max_megabytes, it is renamed to
 * <name>-<time><ext> and a new file is started; backups beyond max_backups or older than max_days
 * are removed.
 */
export class OtelFile {
  private fh?: FileHandle;
  private size = 0;
  private chain: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    readonly path: string,
    private readonly o: { append: boolean; gzip: boolean; rotation?: OtelRotation; onRotated?: (backup: string, removed: string[]) => void },
  ) {}

  async open(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    // lumberjack always appends to an existing file; without rotation OTel truncates unless append.
    const append = this.o.append || this.o.rotation !== undefined;
    this.fh = await open(this.path, append ? 'a' : 'w', 0o600);
    this.size = append ? (await this.fh.stat()).size : 0;
  }

  /** Append one encoded batch; resolves once it is written (fsynced when `sync`). */
  write(data: Buffer, sync: boolean): Promise<void> {
    const next = this.chain.then(async () => {
      const bytes = this.o.gzip ? await gzip(data) : data;
      const max = this.o.rotation ? this.o.rotation.max_megabytes * 1024 * 1024 : 0;
      if (max > 0 && this.size > 0 && this.size + bytes.length > max) await this.rotate();
      await this.fh!.write(bytes);
      this.size += bytes.length;
      this.dirty = true;
      if (sync) await this.sync();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async sync(): Promise<void> {
    if (!this.dirty || !this.fh) return;
    this.dirty = false;
    await this.fh.sync();
  }

  private async rotate(): Promise<void> {
    await this.fh!.sync();
    await this.fh!.close();
    const backup = backupName(this.path, new Date(), this.o.rotation!.localtime);
    await rename(this.path, backup);
    this.fh = await open(this.path, 'w', 0o600);
    this.size = 0;
    this.dirty = false;
    const removed = await this.prune();
    this.o.onRotated?.(backup, removed);
  }

  /** Remove backups past max_backups (newest kept) or older than max_days, as lumberjack does. */
  private async prune(): Promise<string[]> {
    const r = this.o.rotation!;
    if (r.max_backups <= 0 && r.max_days <= 0) return [];
    const dir = dirname(this.path);
    const ext = extname(this.path);
    const base = basename(this.path, ext);
    const re = new RegExp(`^${escape(base)}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}${escape(ext)}$`);
    const backups: { name: string; mtime: number }[] = [];
    for (const name of await readdir(dir)) {
      if (!re.test(name)) continue;
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st) backups.push({ name, mtime: st.mtimeMs });
    }
    backups.sort((a, b) => (a.name < b.name ? 1 : -1));
    const cutoff = r.max_days > 0 ? Date.now() - r.max_days * 86_400_000 : -Infinity;
    const gone = backups.filter((b, i) => (r.max_backups > 0 && i >= r.max_backups) || b.mtime < cutoff);
    for (const b of gone) await rm(join(dir, b.name), { force: true });
    return gone.map((b) => b.name);
  }

  async close(): Promise<void> {
    await this.chain;
    if (!this.fh) return;
    await this.sync();
    await this.fh.close();
    this.fh = undefined;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
