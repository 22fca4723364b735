import { crc32, gunzipSync } from 'node:zlib';
import { base64Size, GZIP_BASE64_PREFIX, gzipTrailerSize, isBase64, type InflatedBody } from './body.js';

/*
 * Gunzip the gzip bodies of a whole batch in one zlib call. A synchronous gunzip costs about as
 * much in setting up its stream as in inflating a 5–10 KB body; gzip members written one after
 * the other inflate as one stream, and each member's trailer gives its size and CRC-32, so the
 * output can be cut back into bodies and each piece checked against its own trailer.
 *
 * A body is taken only when it is one plain gzip member that decodeBody would gunzip whole
 * (valid base64, within the size limit). If the joined inflate fails, or the sizes or any CRC do
 * not match (a body with trailing bytes or several members, a corrupt one), nothing is returned and
 * every body is decoded on its own as before, so the answers are decodeBody's.
 */

interface BodyPart {
  bodyBase64?: unknown;
}

/**
 * What the pieces of one batch may come to: they are all held until the batch is done, where one
 * body at a time holds one; larger bodies (and the rest of a batch past this) go one by one.
 */
export const MAX_TOTAL = 4 << 20;

export function gunzipBodies(parts: Iterable<BodyPart>, maxBytes: number): Map<object, InflatedBody> {
  const found = new Map<object, InflatedBody>();
  const owners: BodyPart[] = [];
  const b64s: string[] = [];
  const raws: Buffer[] = [];
  const sizes: number[] = [];
  let total = 0;
  for (const part of parts) {
    const b64 = part.bodyBase64;
    if (typeof b64 !== 'string' || !b64.startsWith(GZIP_BASE64_PREFIX)) continue;
    if (maxBytes > 0 && base64Size(b64) > maxBytes) continue;
    if (!isBase64(b64)) continue;
    const raw = Buffer.from(b64, 'base64');
    const size = gzipTrailerSize(raw);
    if (size === undefined || (maxBytes > 0 && size > maxBytes) || total + size > MAX_TOTAL) continue;
    owners.push(part);
    b64s.push(b64);
    raws.push(raw);
    sizes.push(size);
    total += size;
  }
  if (raws.length < 2) return found;
  let out: Buffer;
  try {
    // one output chunk of the size the trailers give (no growing and joining of 16 KiB chunks)
    out = gunzipSync(Buffer.concat(raws), { maxOutputLength: Math.max(total, 1), chunkSize: total + 64 });
  } catch {
    return found;
  }
  if (out.length !== total) return found;
  let at = 0;
  for (let i = 0; i < raws.length; i++) {
    const raw = raws[i]!;
    const size = sizes[i]!;
    const bytes = out.subarray(at, at + size);
    if (crc32(bytes) !== raw.readUInt32LE(raw.length - 8)) {
      found.clear();
      return found;
    }
    found.set(owners[i]!, { b64: b64s[i]!, bytes });
    at += size;
  }
  return found;
}
