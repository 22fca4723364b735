import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { CapturedBody } from './rrpair.js';

/**
 * Keeps at most `cap` bytes of a body as it streams past; the rest is counted, not kept, so a
 * large body is never buffered whole. Never throws into the data path.
 */
export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  wireBytes = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  write(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.wireBytes += b.length;
    if (this.kept >= this.cap) {
      if (b.length > 0) this.truncated = true;
      return;
    }
    const room = this.cap - this.kept;
    if (b.length > room) {
      this.chunks.push(Buffer.from(b.subarray(0, room)));
      this.kept += room;
      this.truncated = true;
    } else {
      // Copy: the stream may reuse its buffer after we return.
      this.chunks.push(Buffer.from(b));
      this.kept += b.length;
    }
  }

  /** The captured body, decoded from its Content-Encoding for the record when possible. */
  finish(contentEncoding?: string): CapturedBody {
    const raw = Buffer.concat(this.chunks, this.kept);
    const dec = decodeBody(raw, contentEncoding, this.truncated, this.cap);
    return { bytes: dec ?? raw, truncated: this.truncated, decoded: dec !== undefined, wireBytes: this.wireBytes };
  }
}

/** Decode gzip/deflate/br; a truncated body is decoded as far as it goes. undefined when not encoded or undecodable. */
export function decodeBody(raw: Buffer, contentEncoding: string | undefined, partial: boolean, cap: number): Buffer | undefined {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (!enc || enc === 'identity' || raw.length === 0) return undefined;
  const opts = { maxOutputLength: Math.max(cap, 1), ...(partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {}) };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(raw, opts);
    if (enc === 'deflate') {
      try {
        return inflateSync(raw, opts);
      } catch {
        return inflateRawSync(raw, opts);
      }
    }
    if (enc === 'br') return brotliDecompressSync(raw, { maxOutputLength: opts.maxOutputLength, ...(partial ? { finishFlush: constants.BROTLI_OPERATION_FLUSH } : {}) });
  } catch (err) {
    // Output bigger than the cap: keep the cap's worth, decoded.
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    return undefined;
  }
  return undefined;
}
