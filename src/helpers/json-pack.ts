import { ByteWriter } from './byte-writer.js';

/**
 * JSON texts packed end to end in one buffer of its own (text i is bytes ends[i-1]..ends[i]), to
 * cross to or from a worker thread as two transferred buffers instead of a string each: crossing
 * then copies nothing, and the receiving side reads each text as a view of the one buffer. An
 * empty span is a text left out (JSON is never empty).
 */
export interface JsonPack {
  bytes: Uint8Array;
  ends: Uint32Array;
}

export class JsonPacker {
  private readonly w: ByteWriter;
  private n = 0;
  private readonly ends: Uint32Array;

  constructor(count: number, sizeHint: number) {
    this.ends = new Uint32Array(count);
    this.w = new ByteWriter(Math.max(1024, sizeHint));
  }

  addBytes(b: Uint8Array): void {
    this.w.bytes(b);
    this.end();
  }

  addString(s: string): void {
    this.w.string(s);
    this.end();
  }

  skip(): void {
    this.end();
  }

  /** The pack, and the buffers to transfer with it (the packer is not to be used after). */
  finish(): { pack: JsonPack; transfer: ArrayBuffer[] } {
    if (this.n !== this.ends.length) throw new Error(`JsonPacker: ${this.n} of ${this.ends.length} texts added`);
    return { pack: { bytes: this.w.written(), ends: this.ends }, transfer: [this.w.buf.buffer as ArrayBuffer, this.ends.buffer as ArrayBuffer] };
  }

  private end(): void {
    this.ends[this.n++] = this.w.at;
  }
}

/** Text i of a pack as a view of its buffer (no copy); empty when it was left out. */
export function packed(p: JsonPack, i: number): Buffer {
  const start = i === 0 ? 0 : p.ends[i - 1]!;
  return Buffer.from(p.bytes.buffer, p.bytes.byteOffset + start, p.ends[i]! - start);
}
