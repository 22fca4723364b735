import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { QueryFilter } from '../../core/query.js';
import { compileDocFilter, exactServices, type RecordFilterConfig } from '../../layouts/filter.js';
import { refuseSymlink } from '../../layouts/snapshot.js';
import { allHits, fullRRPair, openStore } from './query.js';

export interface StoreSnapshotOptions {
  files: string[];
  /** The exporter id of a queryable short-term store in the config. */
  id: string;
  startMs: number;
  endMs: number;
  filter: RecordFilterConfig;
  out: string;
}

/**
 * A raw.jsonl snapshot read from a short-term store (`rrpipe snapshot -c FILE --from <exporter id>`):
 * the store's hits of the window in (ts, id) order, each RRPair from the store or, for an
 * index-only store, through its archive_uri. The window's end is exclusive, as in `rrpipe query`.
 */
export async function snapshotFromStore(o: StoreSnapshotOptions): Promise<{ records: number; problems: string[] }> {
  refuseSymlink(o.out);
  const store = await openStore(o.files, o.id);
  const filter: QueryFilter = { start: new Date(o.startMs), end: new Date(o.endMs) };
  const services = exactServices(o.filter);
  if (services?.length === 1) filter.service = services[0]!;
  const match = compileDocFilter(o.filter);
  const ws = createWriteStream(o.out, { flags: 'w', mode: 0o600 });
  const problems: string[] = [];
  let records = 0;
  try {
    for await (const hit of allHits(store, filter, 0, 0)) {
      if (match && !match(hit.doc)) continue;
      let line: string;
      try {
        line = JSON.stringify(await fullRRPair(store, hit)) + '\n';
      } catch (err) {
        problems.push(`${hit.doc.id}: ${(err as Error).message}`);
        continue;
      }
      if (!ws.write(line)) await once(ws, 'drain');
      records++;
    }
  } finally {
    await store.close().catch(() => undefined);
    await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  return { records, problems };
}
