// Request-body decoders for the content encodings confighttp accepts beyond gzip/deflate:
// zstd (fzstd: pure JavaScript, streaming, so the output is cut at the limit; the content
// checksum, which fzstd skips, checked with xxhash-wasm's XXH64) and snappy
// (snappyjs: block format; the framed format is parsed here around it). gzip, deflate and zlib
// stay with node:zlib (http.ts).
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Decompress as ZstdStream } from 'fzstd';
import snappy from 'snappyjs';
import xxhash from 'xxhash-wasm';
import { crc32c } from '../../helpers/crc32c.js';

/**
 * What this receiver decodes ("" is a body without Content-Encoding), and its default
 * compression_algorithms: confighttp's default list ("", gzip, zstd, zlib, snappy, deflate, lz4)
 * less lz4 (no maintained LZ4-frame decoder with an output bound), plus the framed snappy that
 * the Collector's confighttp.framedSnappy gate (beta, on) adds.
 */
export const DECODABLE = ['', 'gzip', 'zstd', 'zlib', 'snappy', 'deflate', 'x-snappy-framed'] as const;

/** The decoded body would exceed the limit (answered 413, like a gzip bomb). */
export class DecodedTooLarge extends Error {}
/** The body is not valid data in its encoding (answered 400). */
export class CorruptEncoding extends Error {}

/** Input fed to the zstd decoder per turn of the event loop: a block is at most 128 KiB, so each turn decodes a few blocks. */
const ZSTD_SLICE = 64 * 1024;

/**
 * A zstd body (one or more frames, skippable frames allowed), decoded up to `limit` bytes.
 * fzstd allocates each frame's window as the header declares it (up to 2 GiB), so the frames
 * are walked first: a declared content size over the limit is refused before any decoding, and
 * a window larger than the limit is declared down to the smallest window ≥ the limit (no
 * back-reference can reach further than the output, which is cut at the limit), so a request
 * holds at most about the limit in window plus the output. The input is fed in slices with a
 * turn of the event loop between them.
 */
export async function unzstd(body: Buffer, limit: number): Promise<Buffer> {
  const frames = walkZstdFrames(body, limit);
  const out: Uint8Array[] = [];
  let size = 0;
  const { create64 } = await (hasher ??= xxhash());
  try {
    for (const f of frames) {
      const hash = f.checksum ? create64() : undefined;
      const d = new ZstdStream((chunk) => {
        size += chunk.length;
        if (size > limit) throw new DecodedTooLarge();
        hash?.update(chunk);
        out.push(chunk);
      });
      for (let at = f.start; at < f.end; at += ZSTD_SLICE) {
        const to = Math.min(f.end, at + ZSTD_SLICE);
        d.push(body.subarray(at, to), to === f.end);
        await yieldToLoop();
      }
      // The low 32 bits of the XXH64 of the frame's content, as klauspost's decoder checks it.
      if (hash && Number(hash.digest() & 0xffffffffn) !== body.readUInt32LE(f.end - 4)) throw new CorruptEncoding('invalid zstd data: content checksum mismatch');
    }
  } catch (err) {
    if (err instanceof DecodedTooLarge || err instanceof CorruptEncoding) throw err;
    throw new CorruptEncoding(`invalid zstd data: ${(err as Error).message}`);
  }
  return Buffer.concat(out, size);
}

let hasher: ReturnType<typeof xxhash> | undefined;

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The zstd frames of a body (skippable ones left out), from their headers and block headers
 * only; each frame's window bounded as unzstd says (descriptors rewritten in place).
 */
function walkZstdFrames(b: Buffer, limit: number): { start: number; end: number; checksum: boolean }[] {
  const corrupt = (why: string) => new CorruptEncoding(`invalid zstd data: ${why}`);
  const frames: { start: number; end: number; checksum: boolean }[] = [];
  let p = 0;
  while (p < b.length) {
    if (p + 8 > b.length) throw corrupt('truncated frame');
    const magic = b.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) { // skippable frame
      p += 8 + b.readUInt32LE(p + 4);
      if (p > b.length) throw corrupt('truncated skippable frame');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt('not a zstd frame (bad magic number)');
    const fhd = b[p + 4]!;
    const single = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsFlag = fhd >> 6;
    const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    let q = p + 5;
    const wdAt = single ? -1 : q++;
    q += dictBytes;
    if (q + fcsBytes > b.length) throw corrupt('truncated frame header');
    let fcs: number | undefined;
    if (fcsBytes === 1) fcs = b[q]!;
    else if (fcsBytes === 2) fcs = b.readUInt16LE(q) + 256;
    else if (fcsBytes === 4) fcs = b.readUInt32LE(q);
    else if (fcsBytes === 8) fcs = Number(b.readBigUInt64LE(q));
    q += fcsBytes;
    if (fcs !== undefined && fcs > limit) throw new DecodedTooLarge();
    if (wdAt >= 0) {
      const wd = b[wdAt]!;
      const base = 2 ** (10 + (wd >> 3));
      const window = base + (base / 8) * (wd & 7);
      if (window > limit) b[wdAt] = windowDescriptorFor(limit);
    }
    for (;;) { // blocks: a 3-byte header (last, type, size), then size bytes (1 for RLE)
      if (q + 3 > b.length) throw corrupt('truncated block');
      const h = b[q]! | (b[q + 1]! << 8) | (b[q + 2]! << 16);
      const type = (h >> 1) & 3;
      if (type === 3) throw corrupt('reserved block type');
      q += 3 + (type === 1 ? 1 : h >>> 3);
      if (q > b.length) throw corrupt('truncated block');
      if (h & 1) break;
    }
    if (checksum) q += 4;
    if (q > b.length) throw corrupt('truncated checksum');
    frames.push({ start: p, end: q, checksum });
    p = q;
  }
  return frames;
}

/** The smallest zstd window descriptor whose window is ≥ n (windows are 2^(10+e) · (1 + m/8)). */
function windowDescriptorFor(n: number): number {
  for (let e = 0; e < 32; e++) {
    const base = 2 ** (10 + e);
    for (let m = 0; m < 8; m++) if (base + (base / 8) * m >= n) return (e << 3) | m;
  }
  return 0xff;
}

/** The framed format's stream identifier: chunk 0xff, length 6, "sNaPpY". */
const SNAPPY_FRAMED_HEADER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);

/**
 * A snappy body, as confighttp reads Content-Encoding snappy: the framed format when it starts
 * with the stream identifier (what Collectors before confighttp.framedSnappy sent as "snappy"),
 * else the block format, whose leading length is checked against the limit before any decoding.
 */
export async function unsnappy(body: Buffer, limit: number): Promise<Buffer> {
  if (body.length >= SNAPPY_FRAMED_HEADER.length && body.subarray(0, SNAPPY_FRAMED_HEADER.length).equals(SNAPPY_FRAMED_HEADER)) {
    return unsnappyFramed(body, limit);
  }
  const declared = snappyLength(body);
  if (declared === undefined) throw new CorruptEncoding('invalid snappy data: no valid length');
  if (declared.length > limit) throw new DecodedTooLarge();
  return snappyBlock(body, declared, 'invalid snappy data');
}

/**
 * snappyjs's decoder, after a pass over the tags that checks what it does not: that the
 * literals and copies fill exactly the declared length and no copy reaches before the start.
 * (snappyjs writes past the end as no-ops and zero-fills a short output, so a body declaring a
 * small length could keep it busy and a truncated one would pass.)
 */
function snappyBlock(b: Buffer, declared: { length: number; header: number }, what: string): Buffer {
  let pos = declared.header;
  let out = 0;
  const bad = (why: string) => new CorruptEncoding(`${what}: ${why}`);
  while (pos < b.length) {
    const c = b[pos++]!;
    let len: number;
    if ((c & 3) === 0) {
      len = (c >>> 2) + 1;
      if (len > 60) {
        const n = len - 60;
        if (pos + n > b.length) throw bad('truncated literal length');
        len = b.readUIntLE(pos, n) + 1;
        pos += n;
      }
      if (pos + len > b.length) throw bad('truncated literal');
      pos += len;
    } else {
      const n = c & 3; // offset bytes: 1 (with 3 bits in the tag), 2 or 4
      if (pos + n > b.length) throw bad('truncated copy');
      const offset = n === 1 ? b[pos]! | ((c >>> 5) << 8) : b.readUIntLE(pos, n === 2 ? 2 : 4);
      len = n === 1 ? ((c >>> 2) & 7) + 4 : (c >>> 2) + 1;
      pos += n === 3 ? 4 : n;
      if (offset === 0 || offset > out) throw bad('copy offset out of range');
    }
    out += len;
    if (out > declared.length) throw bad('more data than the declared length');
  }
  if (out !== declared.length) throw bad('less data than the declared length');
  try {
    return snappy.uncompress(b, declared.length) as Buffer;
  } catch (err) {
    throw bad((err as Error).message);
  }
}

/** The uncompressed length a snappy block declares (a little-endian base-128 varint, at most 32 bits) and the bytes it takes. */
function snappyLength(b: Buffer): { length: number; header: number } | undefined {
  let n = 0;
  for (let i = 0, shift = 0; i < 5 && i < b.length; i++, shift += 7) {
    n += (b[i]! & 0x7f) * 2 ** shift;
    if ((b[i]! & 0x80) === 0) return n <= 0xffffffff ? { length: n, header: i + 1 } : undefined;
  }
  return undefined;
}

/** Chunks decoded per turn of the event loop in the framed format (each at most 64 KiB of output). */
const SNAPPY_CHUNKS_PER_TURN = 16;
const SNAPPY_MAX_CHUNK = 65536;

/** The snappy framed format (framing_format.txt), as Go's snappy.Reader: CRC-32C checked, reserved unskippable chunks refused. */
export async function unsnappyFramed(body: Buffer, limit: number): Promise<Buffer> {
  const corrupt = (why: string) => new CorruptEncoding(`invalid framed snappy data: ${why}`);
  const out: Buffer[] = [];
  let size = 0;
  let p = 0;
  let chunks = 0;
  if (!body.subarray(0, SNAPPY_FRAMED_HEADER.length).equals(SNAPPY_FRAMED_HEADER)) throw corrupt('no stream identifier');
  while (p < body.length) {
    if (p + 4 > body.length) throw corrupt('truncated chunk header');
    const type = body[p]!;
    const len = body.readUIntLE(p + 1, 3);
    const data = body.subarray(p + 4, p + 4 + len);
    if (data.length < len) throw corrupt('truncated chunk');
    p += 4 + len;
    if (type === 0xff) {
      if (!body.subarray(p - 4 - len, p).equals(SNAPPY_FRAMED_HEADER)) throw corrupt('bad stream identifier');
      continue;
    }
    if (type >= 0x80) continue; // padding (0xfe) and reserved skippable chunks
    if (type > 0x01) throw corrupt(`reserved unskippable chunk type 0x${type.toString(16)}`);
    if (len < 4) throw corrupt('chunk too short');
    let chunk: Buffer;
    if (type === 0x01) {
      chunk = data.subarray(4);
      if (chunk.length > SNAPPY_MAX_CHUNK) throw corrupt('uncompressed chunk over 64 KiB');
    } else {
      const block = data.subarray(4);
      const declared = snappyLength(block);
      if (declared === undefined || declared.length > SNAPPY_MAX_CHUNK) throw corrupt('compressed chunk over 64 KiB');
      if (size + declared.length > limit) throw new DecodedTooLarge();
      chunk = snappyBlock(block, declared, 'invalid framed snappy data');
    }
    if (maskedCrc32c(chunk) !== data.readUInt32LE(0)) throw corrupt('checksum mismatch');
    size += chunk.length;
    if (size > limit) throw new DecodedTooLarge();
    out.push(chunk);
    if (++chunks % SNAPPY_CHUNKS_PER_TURN === 0) await yieldToLoop();
  }
  return Buffer.concat(out, size);
}

/** The framed format's checksum: CRC-32C rotated right by 15 plus 0xa282ead8. */
export function maskedCrc32c(b: Uint8Array): number {
  const c = crc32c(b);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}
