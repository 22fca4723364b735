import { randomUUID } from 'node:crypto';
import { constants as fsConstants, createReadStream, createWriteStream, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { RRRecord } from '../core/record.js';
import type { RRPair } from '../core/rrpair.js';
import { normalizeTs, recordId } from '../rrpair/derive.js';
import { compileFilter, exactServices, type RecordFilterConfig } from './filter.js';
import { lines } from './format.js';
import type { LayoutName } from './layout.js';
import { eachLimit, isCorruption, listWindow, readObject, resolveLayout, type ObjectItem, type ObjectProblem, type ReadLayout } from './reader.js';
import type { ObjectStore } from './store.js';

export type SnapshotOptions = SnapshotSettings & (
  | { store: ObjectStore; prefix: string; source?: undefined }
  /** Instead of a store's objects: records from a query API (loki://). */
  | { source: RecordSource; store?: undefined; prefix?: undefined }
);

interface SnapshotSettings {
  layout: LayoutName | 'auto';
  partitionFormat?: string;
  startMs: number;
  endMs: number;
  lateMs?: number;
  filter?: RecordFilterConfig;
  parallel?: number;
  /** raw_jsonl: one file; proxymock: a directory. */
  format: 'raw_jsonl' | 'proxymock';
  out: string;
  /** Records held in memory before a sorted run is spilled to disk. */
  spillRecords?: number;
  /** Bytes of RRPair JSON held in memory before a sorted run is spilled (default 8 MiB), so memory stays flat whatever the record size. */
  spillBytes?: number;
  tmpDir?: string;
  onProgress?(p: SnapshotResult & { objectsTotal: number }): void;
}

export interface SnapshotResult {
  objects: number;
  records: number;
  duplicates: number;
  runs: number;
  problems: ObjectProblem[];
}

/** Records that come from a query rather than from objects (Loki's query_range). */
export interface RecordSource {
  uri: string;
  /** What the metadata calls the layout (e.g. "loki"). */
  layout: string;
  items: AsyncIterable<ObjectItem>;
}

interface Entry {
  ts: string;
  id: string;
  json: string;
}

const cmp = (a: Entry, b: Entry) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Build one snapshot of a window from any layout: records ordered by ts, without duplicate uuids.
 * Memory is bounded: past `spillRecords` or `spillBytes`, sorted runs go to disk and are merged at the end.
 */
export async function buildSnapshot(o: SnapshotOptions): Promise<SnapshotResult> {
  const store = o.store;
  const layout = store ? await resolveLayout(store, o.prefix!, o.layout, o.partitionFormat) : { layout: o.source!.layout };
  const objects = store ? await listWindow(store, layout as ReadLayout, o.startMs, o.endMs, { lateMs: o.lateMs ?? 3_600_000, services: exactServices(o.filter) }) : [];
  const filter = compileFilter(o.filter);
  const res: SnapshotResult = { objects: 0, records: 0, duplicates: 0, runs: 0, problems: [] };
  const spill = o.spillRecords ?? 200_000;
  const spillBytes = o.spillBytes ?? 8 * 2 ** 20;
  const work = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'rrpipe-snapshot-'));
  const runs: string[] = [];
  let buf: Entry[] = [];
  let bufBytes = 0;
  let spilling: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | undefined;
  // At most one run is being written while the next fills: readers that fill the buffer faster
  // than the disk takes it wait (all on the same spill) instead of piling sorted runs up in memory.
  const spillNow = () =>
    (waiting ??= (async () => {
      await spilling;
      waiting = undefined;
      spillRun();
    })());
  const spillRun = () => {
    const run = buf.sort(cmp);
    buf = [];
    bufBytes = 0;
    const path = join(work, `run-${runs.length}.tsv`);
    runs.push(path);
    const prev = spilling;
    spilling = (async () => {
      await prev;
      const ws = createWriteStream(path);
      for (const e of run) if (!ws.write(`${e.ts}\t${e.id}\t${e.json}\n`)) await once(ws, 'drain');
      ws.end();
      await once(ws, 'close');
    })();
  };
  const take = async (item: ObjectItem, uri: string) => {
    if (item.kind === 'bad') {
      res.problems.push({ uri, line: item.line, reason: item.reason });
      return;
    }
    if (!(item.ms >= o.startMs && item.ms <= o.endMs)) return;
    const r: RRRecord = item.record;
    if (filter && !filter(r)) return;
    const json = JSON.stringify(r.rrpair);
    buf.push({ ts: normalizeTs(r.rrpair.ts), id: recordId(r.rrpair), json });
    bufBytes += json.length;
    if (buf.length >= spill || bufBytes >= spillBytes) await spillNow();
  };
  try {
    if (o.source) {
      for await (const item of o.source.items) await take(item, o.source.uri);
    }
    await eachLimit(objects, o.parallel ?? 8, async (obj) => {
      try {
        for await (const item of readObject(store!, obj.key)) await take(item, store!.uri(obj.key));
      } catch (err) {
        res.problems.push({ uri: store!.uri(obj.key), reason: `${isCorruption(err) ? 'corrupt object' : 'unreadable object'}: ${(err as Error).message}` });
      }
      res.objects++;
      o.onProgress?.({ ...res, objectsTotal: objects.length });
    });
    const writer = await openWriter(o, layout.layout, o.source?.uri ?? o.store!.uri(o.prefix!));
    if (runs.length === 0) {
      await emitSorted(buf.sort(cmp), writer, res);
    } else {
      if (waiting) await waiting;
      if (buf.length) spillRun();
      await spilling;
      res.runs = runs.length;
      await emitSorted(mergeRuns(runs), writer, res);
    }
    await writer.close(res);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return res;
}

/**
 * Write RRPairs selected elsewhere (the query_api explorer's export) as buildSnapshot writes a
 * window: ordered by ts then id, duplicate uuids dropped, the same raw_jsonl and proxymock writers.
 */
export async function writeSnapshot(rrpairs: Iterable<RRPair>, o: WriterOptions & { source: string; layout: string }): Promise<SnapshotResult> {
  const res: SnapshotResult = { objects: 0, records: 0, duplicates: 0, runs: 0, problems: [] };
  const entries: Entry[] = [];
  for (const rr of rrpairs) entries.push({ ts: normalizeTs(rr.ts), id: recordId(rr), json: JSON.stringify(rr) });
  const writer = await openWriter(o, o.layout, o.source);
  await emitSorted(entries.sort(cmp), writer, res);
  await writer.close(res);
  return res;
}

async function* mergeRuns(paths: string[]): AsyncIterable<Entry> {
  const its = paths.map((p) => lines(createReadStream(p, { highWaterMark: 1 << 16 }))[Symbol.asyncIterator]());
  const parse = (l: string): Entry => {
    const a = l.indexOf('\t');
    const b = l.indexOf('\t', a + 1);
    return { ts: l.slice(0, a), id: l.slice(a + 1, b), json: l.slice(b + 1) };
  };
  const heads: (Entry | undefined)[] = await Promise.all(its.map(async (it) => { const n = await it.next(); return n.done ? undefined : parse(n.value); }));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) if (heads[i] && (best < 0 || cmp(heads[i]!, heads[best]!) < 0)) best = i;
    if (best < 0) return;
    yield heads[best]!;
    const n = await its[best]!.next();
    heads[best] = n.done ? undefined : parse(n.value);
  }
}

async function emitSorted(entries: Iterable<Entry> | AsyncIterable<Entry>, w: Writer, res: SnapshotResult): Promise<void> {
  let curTs = '';
  let ids = new Set<string>();
  for await (const e of entries as AsyncIterable<Entry>) {
    if (e.ts !== curTs) {
      curTs = e.ts;
      ids = new Set();
    }
    if (ids.has(e.id)) {
      res.duplicates++;
      continue;
    }
    ids.add(e.id);
    res.records++;
    await w.write(e);
  }
}

interface Writer {
  write(e: Entry): Promise<void>;
  close(res: SnapshotResult): Promise<void>;
}

async function writeLine(ws: WriteStream, s: string): Promise<void> {
  if (!ws.write(s)) await once(ws, 'drain');
}

/** A file name from a uuid (base64 has "/" and "+"): hex of the 16 bytes, or a safe form. */
export /** The output path must not be a symlink: it would write (or, as a directory, create files) wherever it points. */
function refuseSymlink(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) throw new Error(`--out ${path} is a symbolic link; refusing to write through it (give the real path)`);
}

function outError(path: string, err: NodeJS.ErrnoException): Error {
  return err.code === 'ELOOP' ? new Error(`--out ${path} is a symbolic link; refusing to write through it (give the real path)`) : err;
}

function uuidFileName(id: string): string {
  const b = Buffer.from(id, 'base64');
  if (b.length === 16 && b.toString('base64') === id) return b.toString('hex');
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

type WriterOptions = Pick<SnapshotOptions, 'format' | 'out' | 'startMs' | 'endMs'>;

async function openWriter(o: WriterOptions, layout: string, source: string): Promise<Writer> {
  refuseSymlink(o.out);
  if (o.format === 'raw_jsonl') {
    // O_NOFOLLOW: a symlink planted at the output path fails the open instead of redirecting the write.
    let fd: number;
    try {
      fd = openSync(o.out, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw outError(o.out, err as NodeJS.ErrnoException);
    }
    const ws = createWriteStream('', { fd });
    return {
      write: (e) => writeLine(ws, e.json + '\n'),
      async close() {
        ws.end();
        await once(ws, 'close');
      },
    };
  }
  const id = randomUUID();
  const dir = join(o.out, `snapshot-${id}`);
  mkdirSync(join(o.out, '.metadata'), { recursive: true });
  const hosts = new Set<string>();
  let first: string | undefined;
  let last: string | undefined;
  return {
    async write(e) {
      const rr = JSON.parse(e.json) as { http?: { req?: { host?: string } }; network_address?: string };
      const host = (rr.http?.req?.host ?? rr.network_address ?? 'unknown').replace(/[^A-Za-z0-9._:-]/g, '_').replace(/:/g, '_');
      if (!hosts.has(host)) {
        mkdirSync(join(dir, host), { recursive: true });
        hosts.add(host);
      }
      first ??= e.ts;
      last = e.ts;
      writeFileSync(join(dir, host, `${uuidFileName(e.id)}.json`), JSON.stringify(rr, null, 2) + '\n');
    },
    async close(res) {
      mkdirSync(dir, { recursive: true });
      const meta = { id, name: `snapshot-${id}`, created: new Date().toISOString(), source, layout, start: new Date(o.startMs).toISOString(), end: new Date(o.endMs).toISOString(), first_ts: first ?? null, last_ts: last ?? null, records: res.records, hosts: [...hosts].sort() };
      writeFileSync(join(o.out, '.metadata', 'snapshot.json'), JSON.stringify(meta, null, 2) + '\n');
    },
  };
}
