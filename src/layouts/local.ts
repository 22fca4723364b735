import { createReadStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { NotFoundError, ObjectExistsError, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

/**
 * A local directory as an object store: keys are relative paths. Writes go to a temporary file
 * that is renamed into place, so a reader never sees half an object.
 */
export class LocalDirStore implements ObjectStore {
  readonly scheme = 'file';
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new Error(`key "${key}" leaves the directory ${this.root}`);
    return p;
  }

  uri(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  async put(key: string, body: Buffer, opts: PutOptions = {}): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    const tmp = join(dirname(p), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    await writeFile(tmp, body);
    try {
      if (opts.ifNoneMatch) {
        try {
          await link(tmp, p);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(`${key} exists`);
          throw err;
        }
        await unlink(tmp);
      } else {
        await rename(tmp, p);
      }
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Start at the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = dirKey ? this.path(dirKey) : this.root;
    const walk = async function* (dir: string, rel: string): AsyncIterable<ObjectInfo> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith('.tmp-')) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(key + '/')) yield* walk(join(dir, e.name), key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const st = await stat(join(dir, e.name));
          yield { key, size: st.size };
        }
      }
    };
    yield* walk(start, dirKey);
  }

  async get(key: string): Promise<Readable> {
    const p = this.path(key);
    try {
      await stat(p);
    } catch {
      throw new NotFoundError(`${this.uri(key)} does not exist`);
    }
    return createReadStream(p, { highWaterMark: 1 << 20 });
  }

  async getSmall(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
