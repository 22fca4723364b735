import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import type { QueryFilter, QueryHit, QueryableStore } from '../../../core/query.js';
import type { RRPair } from '../../../core/rrpair.js';
import { fetchArchived } from '../../../helpers/archive-fetch.js';
import { MANIFEST_KEY } from '../../../layouts/layout.js';
import { readObject } from '../../../layouts/reader.js';
import { writeSnapshot, type SnapshotResult } from '../../../layouts/snapshot.js';
import { openLocation, type StoreConnection } from '../../../layouts/uri.js';
import { getRecordAt } from '../../../layouts/get.js';
import { exactLiteral } from '../../../helpers/hot-store.js';

export type ExportFormat = 'raw_jsonl' | 'proxymock';

/** The endpoint and credentials of an archive location (host.archiveConnection in a service). */
export type ConnectionFor = (uri: string) => StoreConnection;

/** The full RRPair behind one index document: from its archive (what `rrpipe snapshot` reads), else from the store. */
export async function fetchFull(store: QueryableStore, hit: QueryHit, connFor: ConnectionFor, signal?: AbortSignal): Promise<{ rrpair: RRPair; from: string }> {
  const uri = hit.doc.archive_uri;
  if (uri) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
    return { rrpair: scheme === 'file' ? await fetchArchived(uri) : await getRecordAt(uri, connFor(uri)), from: uri };
  }
  if (hit.rrpair) return { rrpair: hit.rrpair, from: 'store' };
  const rr = store.get ? await store.get(hit.doc.id, { signal }) : undefined;
  if (rr) return { rrpair: rr, from: 'store' };
  throw new Error(`RRPair ${hit.doc.id}: the store does not keep it and it has no archive_uri`);
}

/**
 * The full RRPairs of many hits: each archived object is read once for all the lines wanted from
 * it (a per-record fetch would re-read the object for every line).
 */
export async function fetchMany(store: QueryableStore, hits: QueryHit[], connFor: ConnectionFor): Promise<RRPair[]> {
  const byObject = new Map<string, { hit: QueryHit; line: number }[]>();
  const out = new Map<QueryHit, RRPair>();
  for (const h of hits) {
    const uri = h.doc.archive_uri;
    const m = uri ? /^(.*)#(?:L|line=)?(\d+)$/.exec(uri) : null;
    if (!m) {
      out.set(h, (await fetchFull(store, h, connFor)).rrpair);
      continue;
    }
    const list = byObject.get(m[1]!) ?? [];
    list.push({ hit: h, line: Number(m[2]) });
    byObject.set(m[1]!, list);
  }
  for (const [objUri, wanted] of byObject) {
    const loc = openLocation(objUri, connFor(objUri), { fileIsObject: true });
    const byLine = new Map(wanted.map((w) => [w.line, w.hit]));
    const max = Math.max(...byLine.keys());
    try {
      for await (const item of readObject(loc.store, loc.key)) {
        if (item.kind !== 'record') continue;
        const h = byLine.get(item.pos);
        if (h) out.set(h, item.record.rrpair);
        if (item.pos >= max) break;
      }
    } finally {
      await loc.store.close?.();
    }
    for (const w of wanted) if (!out.has(w.hit)) throw new Error(`${objUri}#${w.line}: no RRPair at that position`);
  }
  return hits.map((h) => out.get(h)!);
}

/** Write the RRPairs as a snapshot (the `rrpipe snapshot` writers) and stream it: raw.jsonl, or the proxymock directory as .tar.gz. */
export async function streamExport(rrpairs: RRPair[], o: { format: ExportFormat; start: Date; end: Date; source: string }, res: Writable & { setHeader(k: string, v: string): void; writeHead(s: number): void }): Promise<SnapshotResult> {
  const work = mkdtempSync(join(tmpdir(), 'rrpipe-export-'));
  try {
    const out = o.format === 'raw_jsonl' ? join(work, 'raw.jsonl') : join(work, 'snapshot');
    const result = await writeSnapshot(rrpairs, { format: o.format, out, startMs: o.start.getTime(), endMs: o.end.getTime(), source: o.source, layout: 'query_api' });
    const stamp = o.start.toISOString().replace(/[:.]/g, '-');
    res.setHeader('x-rrpipe-records', String(result.records));
    if (o.format === 'raw_jsonl') {
      res.setHeader('content-type', 'application/x-ndjson');
      res.setHeader('content-disposition', `attachment; filename="rrpairs-${stamp}.raw.jsonl"`);
      res.writeHead(200);
      await pipeline(createReadStream(out), res);
    } else {
      // tar-stream (a dependency) writes the archive; the files are the proxymock directory as written.
      const { pack } = await import('tar-stream');
      res.setHeader('content-type', 'application/gzip');
      res.setHeader('content-disposition', `attachment; filename="proxymock-${stamp}.tar.gz"`);
      res.writeHead(200);
      const p = pack();
      const files = (readdirSync(out, { recursive: true, withFileTypes: true }) as Dirent[]).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)).sort();
      const done = pipeline(p, createGzip(), res);
      for (const f of files) {
        const body = readFileSync(f);
        await new Promise<void>((ok, fail) => p.entry({ name: relative(out, f), size: body.length, mode: 0o644 }, body, (err) => (err ? fail(err) : ok())));
      }
      p.finalize();
      await done;
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The archive root to name in `rrpipe snapshot --from`: the configured one, else, for a file://
 * archive, the folder above the record's object that holds the layout manifest.
 */
export function archiveRoot(configured: string | undefined, archiveUri: string | undefined): string | undefined {
  if (configured) return configured;
  if (!archiveUri?.startsWith('file:')) return undefined;
  let dir = dirname(fileURLToPath(archiveUri.replace(/#.*$/, '')));
  for (let i = 0; i < 12; i++) {
    if (existsSync(join(dir, MANIFEST_KEY))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** A query regex as `rrpipe snapshot` globs (repeatable flags), when it can be written so. */
export function regexAsGlobs(src: string): string[] | undefined {
  const alts = src.startsWith('^(') && src.endsWith(')$') ? src.slice(2, -2).split('|').map((a) => `^${a}$`) : src.split('|');
  const out: string[] = [];
  for (const a of alts) {
    const lit = (s: string) => (/^(?:[^\\^$.*+?()[\]{}|]|\\[\\^$.*+?()[\]{}|/])*$/.test(s) ? s.replace(/\\(.)/g, '$1') : undefined);
    const exact = exactLiteral(a);
    if (exact !== undefined) {
      out.push(exact);
      continue;
    }
    const anchoredStart = a.startsWith('^');
    const anchoredEnd = a.endsWith('$') && !a.endsWith('\\$');
    const core = lit(a.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined));
    if (core === undefined || core.includes('*')) return undefined;
    out.push(`${anchoredStart ? '' : '*'}${core}${anchoredEnd ? '' : '*'}`);
  }
  return out;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The `rrpipe snapshot` command that takes the same selection from the long-term archive. */
export function snapshotCommand(filter: QueryFilter & { start: Date; end: Date }, format: ExportFormat, root: string | undefined): { command: string; exact: boolean; notes: string[] } {
  const notes: string[] = [];
  // The query's end is exclusive, the snapshot's inclusive (to the millisecond).
  const args = ['rrpipe', 'snapshot', '--from', root ?? '<archive root>', '--start', filter.start.toISOString(), '--end', new Date(filter.end.getTime() - 1).toISOString()];
  if (!root) notes.push('the archive root is not known here: set query_api `archive` to the long-term store the records are archived in');
  for (const k of ['cluster', 'namespace', 'service', 'direction'] as const) if (filter[k]) args.push(`--${k}`, filter[k]!);
  if (filter.protocol?.includes('*')) notes.push(`the protocol "${filter.protocol}" reads as a glob: the snapshot takes every protocol`);
  else if (filter.protocol) args.push('--l7protocol', filter.protocol);
  for (const [k, flag] of [['method', 'command'], ['status', 'status'], ['endpoint', 'location']] as const) {
    const v = filter[k];
    if (!v) continue;
    const globs = regexAsGlobs(v);
    if (!globs) {
      notes.push(`the ${k} regex "${v}" has no glob form: the snapshot takes every ${flag}`);
      continue;
    }
    for (const g of globs) args.push(`--${flag}`, g);
  }
  args.push('--format', format, '--out', format === 'raw_jsonl' ? 'snapshot.raw.jsonl' : 'snapshot/');
  return { command: args.map(shellQuote).join(' '), exact: notes.length === 0, notes };
}
