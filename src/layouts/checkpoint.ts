import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only journal of what a rehydration has delivered: per object, the last position the
 * pipeline accepted, and which objects are finished. A restarted rehydration skips both, so it
 * delivers every record once. Lines are appended synchronously after each accepted batch.
 */
export class Checkpoint {
  readonly done = new Set<string>();
  readonly progress = new Map<string, number>();
  window?: { startMs: number; endMs: number };
  complete = false;

  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue;
      let e: { window?: { startMs: number; endMs: number }; k?: string; n?: number; done?: 1; complete?: 1 };
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash: everything before it holds
      }
      if (e.window) this.window = e.window;
      else if (e.complete) this.complete = true;
      else if (e.k !== undefined && e.done) this.done.add(e.k);
      else if (e.k !== undefined && typeof e.n === 'number') this.progress.set(e.k, Math.max(e.n, this.progress.get(e.k) ?? 0));
    }
  }

  get exists(): boolean {
    return this.window !== undefined;
  }

  private append(o: object): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, JSON.stringify(o) + '\n');
  }

  begin(window: { startMs: number; endMs: number }): void {
    this.reset();
    this.window = window;
    this.append({ window });
  }

  reset(): void {
    rmSync(this.path, { force: true });
    this.done.clear();
    this.progress.clear();
    this.complete = false;
    this.window = undefined;
  }

  /** Positions up to n (inclusive) of this object were accepted. */
  advance(key: string, n: number): void {
    this.progress.set(key, n);
    this.append({ k: key, n });
  }

  finish(key: string): void {
    this.done.add(key);
    this.append({ k: key, done: 1 });
  }

  markComplete(): void {
    this.complete = true;
    this.append({ complete: 1 });
  }
}
