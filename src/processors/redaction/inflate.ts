import { decodeBody, GZIP_BASE64_PREFIX, type InflatedBody } from '../../rrpair/body.js';
import { WorkerPool } from '../../helpers/worker-pool.js';

/*
 * The gzip bodies of a batch gunzipped in a worker thread, so the event loop does not: each body
 * alone, by decodeBody itself (same bytes, same limits), never several joined in one zlib call,
 * whose pieces cannot be proven to be the bodies they are cut for (a body whose deflate data runs
 * on into the next one's). A body the worker could not gunzip, or left out, is decoded by
 * walkBody as before, so every answer that is not bytes (invalid base64, too large, corrupt) is
 * decodeBody's on the event loop. One thread a processor, started by the first batch with a gzip
 * body. (libuv's threadpool was measured too: an async zlib call a body costs the event loop as
 * much as gunzipSync, its set-up being most of the work for a 1 KB member.)
 */

/**
 * What the worker is sent: base64 gzip bodies, decodeBody's limit, and the buffer their inflated
 * bytes go into, made (and so freed) by the event loop's thread: allocations made in the worker
 * and freed after it handed them over grew glibc's arena of the worker by 60–80 MB of peak RSS.
 */
interface InflateInput {
  b64s: string[];
  maxBytes: number;
  /** Each body's size by its gzip trailer: where it goes in `into`. */
  sizes: Int32Array;
  into: ArrayBuffer;
}

/** `into` filled, and each body's size (-1: not inflated here, or not to the size its trailer gives). */
interface InflateOutput {
  bytes: ArrayBuffer;
  sizes: Int32Array;
  /** Handed back, not copied (worker-pool-entry.ts). */
  transfer: ArrayBuffer[];
}

// 10-byte header, empty deflate data, 8-byte trailer: 18 bytes in 24 base64 characters
const GZIP_MIN_B64 = 24;

/** The worker's batch function (worker-pool.ts loads it by this module's path). */
export function bodyInflater(): (input: InflateInput) => InflateOutput {
  return ({ b64s, maxBytes, sizes, into }) => {
    const out = new Uint8Array(into);
    let at = 0;
    b64s.forEach((b64, i) => {
      const size = sizes[i]!;
      const dec = decodeBody(b64, undefined, maxBytes);
      if (dec.ok && dec.encoding === 'gzip' && dec.bytes.length === size) out.set(dec.bytes, at);
      else sizes[i] = -1;
      at += size;
    });
    return { bytes: into, sizes, transfer: [into, sizes.buffer as ArrayBuffer] };
  };
}

/** The size a gzip body's trailer gives (the last 4 bytes), from the end of its base64 alone. */
function trailerSize(b64: string): number {
  const tail = Buffer.from(b64.slice(Math.max(0, (b64.length - 16) & ~3)), 'base64');
  return tail.length >= 8 ? tail.readUInt32LE(tail.length - 4) : -1;
}

interface BodyPart {
  bodyBase64?: unknown;
}

/** The request and response of each RRPair that carry a gzip body in bodyBase64. */
function gzipParts(rrpairs: Iterable<unknown>): BodyPart[] {
  const out: BodyPart[] = [];
  for (const rr of rrpairs) {
    const http = (rr as { http?: { req?: unknown; res?: unknown } } | null | undefined)?.http;
    if (!http || typeof http !== 'object') continue;
    for (const part of [http.req, http.res]) {
      const b64 = (part as BodyPart | null | undefined)?.bodyBase64;
      if (typeof b64 === 'string' && b64.length >= GZIP_MIN_B64 && b64.startsWith(GZIP_BASE64_PREFIX)) out.push(part as BodyPart);
    }
  }
  return out;
}

/**
 * The worker's heap holds a batch's base64 strings and little else (inflated bytes are outside
 * it): a small young generation is collected often, which keeps the thread's memory small.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 4 };

const NONE: ReadonlyMap<object, InflatedBody> = new Map();

/** Gunzips batches' gzip bodies in its own worker thread. */
export class BodyInflater {
  /** Made by the first batch with a gzip body; null when it could not be (every body is then decoded by walkBody). */
  private pool: WorkerPool | null | undefined;

  /**
   * @param maxBytes decodeBody's limit (max_body_size)
   * @param limit inflated bytes a batch, all held until the batch is redacted; bodies past it are left out
   * @param unavailable told once when no worker can be made
   */
  constructor(private readonly maxBytes: number, private readonly limit: number, private readonly name: string, private readonly unavailable: (err: Error) => void) {}

  private workers(): WorkerPool | null {
    if (this.pool === undefined) {
      try {
        this.pool = new WorkerPool({ module: import.meta.url, factory: 'bodyInflater', init: null, size: 1, name: this.name, resourceLimits: WORKER_HEAP });
      } catch (err) {
        this.pool = null;
        this.unavailable(err as Error);
      }
    }
    return this.pool;
  }

  /** The batch's gzip bodies by their req/res object; never rejects (a failed worker leaves every body to walkBody). */
  async inflate(rrpairs: Iterable<unknown>): Promise<ReadonlyMap<object, InflatedBody>> {
    const parts = gzipParts(rrpairs);
    const pool = parts.length ? this.workers() : null;
    if (!pool) return NONE;
    // bodies whose trailers give a size within the limits; the rest are decoded by walkBody
    const b64s: string[] = [];
    const taken: BodyPart[] = [];
    const sized: number[] = [];
    let total = 0;
    for (const p of parts) {
      const b64 = p.bodyBase64 as string;
      const size = trailerSize(b64);
      if (size < 0 || (this.maxBytes > 0 && size > this.maxBytes) || total + size > this.limit) continue;
      b64s.push(b64);
      taken.push(p);
      sized.push(size);
      total += size;
    }
    if (taken.length === 0) return NONE;
    let out: InflateOutput;
    try {
      const input: InflateInput = { b64s, maxBytes: this.maxBytes, sizes: Int32Array.from(sized), into: new ArrayBuffer(total) };
      out = await pool.run<InflateOutput>(input, [input.into, input.sizes.buffer as ArrayBuffer]);
    } catch {
      return NONE;
    }
    const found = new Map<object, InflatedBody>();
    const all = Buffer.from(out.bytes);
    let at = 0;
    for (let i = 0; i < taken.length; i++) {
      if (out.sizes[i]! >= 0) found.set(taken[i]!, { b64: b64s[i]!, bytes: all.subarray(at, at + sized[i]!) });
      at += sized[i]!;
    }
    return found;
  }

  async close(deadline?: AbortSignal): Promise<void> {
    await this.pool?.close(deadline);
  }
}
