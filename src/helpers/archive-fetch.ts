import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { readObject } from '../layouts/reader.js';
import { openLocation, type StoreConnection } from '../layouts/uri.js';
import type { RRPair } from '../rrpair/types.js';

/**
 * Fetches archived RRPairs by archive_uri for `rrpipe query --output raw` and snapshots of
 * index-only stores. `s3://`, `gs://`, `azblob://` and `abfss://` objects are read whole through the
 * long-term storage readers (any layout, gzip/zstd) and kept in a small LRU: the hits of a page
 * come in time order and point into the same few objects, so each object is downloaded once,
 * not once per record.
 */
export class ArchiveFetcher {
  private readonly objects = new Map<string, Promise<Map<number, RRPair>>>();

  /** `connectionFor` gives the endpoint and credentials of a location (from the config's archive components). */
  constructor(private readonly connectionFor: (uri: string) => StoreConnection = () => ({}), private readonly maxObjects = 16) {}

  async fetch(uri: string): Promise<RRPair> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
    if (scheme === 'file') return fetchArchived(uri);
    if (scheme !== 's3' && scheme !== 'gs' && scheme !== 'azblob' && scheme !== 'abfs' && scheme !== 'abfss') {
      throw new Error(`${uri}: cannot fetch archived RRPairs from ${scheme ? `${scheme}://` : 'this'} locations (s3://, gs://, azblob://, abfss://, file://)`);
    }
    const hash = uri.lastIndexOf('#');
    const line = hash < 0 ? NaN : Number(uri.slice(hash + 1));
    if (!Number.isInteger(line) || line < 1) throw new Error(`${uri}: no #line (the record's position in the object)`);
    const base = uri.slice(0, hash);
    let obj = this.objects.get(base);
    if (obj) {
      this.objects.delete(base); // most recently used last
    } else {
      obj = this.load(base);
      obj.catch(() => this.objects.delete(base));
    }
    this.objects.set(base, obj);
    while (this.objects.size > this.maxObjects) this.objects.delete(this.objects.keys().next().value!);
    const rr = (await obj).get(line);
    if (!rr) throw new Error(`${uri}: no RRPair at position ${line}`);
    return rr;
  }

  private async load(base: string): Promise<Map<number, RRPair>> {
    const loc = openLocation(base, this.connectionFor(base), { fileIsObject: true });
    const out = new Map<number, RRPair>();
    try {
      for await (const item of readObject(loc.store, loc.key)) if (item.kind === 'record') out.set(item.pos, item.record.rrpair);
    } finally {
      await loc.store.close?.();
    }
    return out;
  }
}

/**
 * Fetch one archived RRPair from a `file://<path>#<line>` archive_uri (line numbers count from 1;
 * a .gz file is decompressed; without #line the file must hold exactly one RRPair). Other schemes
 * go through ArchiveFetcher.
 */
export async function fetchArchived(uri: string): Promise<RRPair> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme !== 'file') return new ArchiveFetcher().fetch(uri);
  const hash = uri.indexOf('#');
  const fileUrl = hash < 0 ? uri : uri.slice(0, hash);
  const frag = hash < 0 ? undefined : uri.slice(hash + 1);
  const path = fileURLToPath(fileUrl);
  let buf = await readFile(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
  let line: string | undefined;
  if (frag === undefined || frag === '') {
    if (lines.length !== 1) throw new Error(`${uri}: no #line given and the file holds ${lines.length} lines`);
    line = lines[0]!;
  } else {
    const m = /^(?:L|line=)?(\d+)$/.exec(frag);
    if (!m) throw new Error(`${uri}: invalid line fragment "#${frag}"`);
    const n = Number(m[1]);
    line = lines[n - 1];
    if (n < 1 || line === undefined) throw new Error(`${uri}: line ${n} is past the end (${lines.length} lines)`);
  }
  try {
    return JSON.parse(line) as RRPair;
  } catch (err) {
    throw new Error(`${uri}: not a JSON RRPair: ${(err as Error).message}`);
  }
}
