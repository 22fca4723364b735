import { createRequire } from 'node:module';
import { Readable, Transform, pipeline } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import type { RRRecord } from '../core/record.js';
import { newRecord } from '../core/record.js';
import { otlpJsonToRecords, recordsToOtlpJson, isRRPairBody } from '../rrpair/otlp.js';
import type { RRPair } from '../rrpair/types.js';

export type Format = 'raw_jsonl' | 'otlp_json';
export type Compression = 'none' | 'gzip' | 'zstd';
export const FORMATS: readonly Format[] = ['raw_jsonl', 'otlp_json'];
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd'];

const require = createRequire(import.meta.url);
type ZstdModule = { compress(b: Uint8Array): Buffer; DecompressStream: new () => Transform };
let zstd: ZstdModule | null | undefined;

/** zstd-napi when it is installed and built, else null (node:zlib has zstd only from Node 22.15). */
export function zstdModule(): ZstdModule | null {
  if (zstd === undefined) {
    try {
      zstd = require('zstd-napi') as ZstdModule;
    } catch {
      zstd = null;
    }
  }
  return zstd;
}

export function assertCompression(c: Compression): void {
  if (c === 'zstd' && !zstdModule()) {
    throw new Error('compression "zstd" needs the zstd-napi package (npm install zstd-napi), which is not installed or did not build here; use gzip');
  }
}

/** File name extension for a format and compression. */
export function extensionOf(format: Format, compression: Compression): string {
  const base = format === 'raw_jsonl' ? '.jsonl' : '.json';
  return base + (compression === 'gzip' ? '.gz' : compression === 'zstd' ? '.zst' : '');
}

export function compress(body: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(body);
  if (c === 'zstd') {
    assertCompression(c);
    return zstdModule()!.compress(body);
  }
  return body;
}

/** Records as the bytes of one object; `positions[i]` is the record's #fragment in its location. */
export function encodeRecords(batch: RRRecord[], format: Format): Buffer {
  if (format === 'otlp_json') return Buffer.from(JSON.stringify(recordsToOtlpJson(batch)) + '\n');
  return Buffer.from(batch.map((r) => JSON.stringify(r.rrpair)).join('\n') + '\n');
}

/**
 * The order in which records come back out of an encoded object (for #line fragments): raw_jsonl
 * keeps the batch order; otlp_json groups records by resource.
 */
export function encodedOrder(batch: RRRecord[], format: Format): number[] {
  if (format === 'raw_jsonl') return batch.map((_, i) => i);
  const groups = new Map<string, number[]>();
  batch.forEach((r, i) => {
    const attrs: Record<string, unknown> = { ...r.resource };
    if (attrs.cluster === undefined && r.rrpair.cluster !== undefined && r.rrpair.cluster !== 'undefined' && r.rrpair.cluster !== '') attrs.cluster = r.rrpair.cluster;
    const k = JSON.stringify(attrs);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  return [...groups.values()].flat();
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Decompress a stream, recognising gzip and zstd by their magic bytes whatever the key says. */
export async function decompressStream(input: Readable): Promise<Readable> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 4) {
    const n = await it.next();
    if (n.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value)]);
  }
  const source = Readable.from(
    (async function* () {
      if (head.length) yield head;
      if (ended) return;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield n.value;
      }
    })(),
    { objectMode: false },
  );
  let target: Transform;
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) target = createGunzip();
  else if (ZSTD_MAGIC.every((b, i) => head[i] === b)) {
    const z = zstdModule();
    if (!z) throw new Error('object is zstd-compressed but zstd-napi is not installed');
    target = new z.DecompressStream();
  } else return source;
  pipeline(source, target, () => undefined);
  return target;
}

/** Split a byte stream into lines (without the newline), never holding more than one line. */
export async function* lines(input: AsyncIterable<Buffer | string>): AsyncIterable<string> {
  let rest = '';
  const { StringDecoder } = await import('node:string_decoder');
  const dec = new StringDecoder('utf8');
  for await (const chunk of input) {
    const s = rest + (typeof chunk === 'string' ? chunk : dec.write(chunk));
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      yield s.slice(start, nl);
      start = nl + 1;
    }
    rest = s.slice(start);
  }
  rest += dec.end();
  if (rest !== '') yield rest;
}

/** What a reader gets out of an object: records with their #fragment, or a problem with its line. */
export type Decoded =
  | { kind: 'record'; record: RRRecord; pos: number }
  | { kind: 'bad'; line: number; reason: string };

/**
 * Decode an object stream (compressed or not; raw.jsonl lines, Fluent Bit lines or one-line OTLP
 * JSON documents). Bad lines are yielded as problems, so one bad line never hides the rest.
 */
export async function* decodeObject(input: Readable): AsyncIterable<Decoded> {
  let lineNo = 0;
  let pos = 0;
  for await (const raw of lines(await decompressStream(input))) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      yield { kind: 'bad', line: lineNo, reason: `invalid JSON: ${(err as Error).message.slice(0, 120)}` };
      continue;
    }
    if (v && typeof v === 'object' && Array.isArray((v as { resourceLogs?: unknown }).resourceLogs)) {
      let res;
      try {
        res = otlpJsonToRecords(v);
      } catch (err) {
        yield { kind: 'bad', line: lineNo, reason: (err as Error).message };
        continue;
      }
      for (const record of res.records) yield { kind: 'record', record, pos: ++pos };
      if (res.skipped) yield { kind: 'bad', line: lineNo, reason: `${res.skipped} log record(s) whose body is not an RRPair` };
      continue;
    }
    if (!isRRPairBody(v)) {
      yield { kind: 'bad', line: lineNo, reason: 'not an RRPair (no msgType/ts)' };
      continue;
    }
    pos = lineNo;
    yield { kind: 'record', record: newRecord(v as RRPair), pos };
  }
}

export function readableOf(b: Buffer): Readable {
  return Readable.from([b]);
}
