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
  private buf: Buffer;
  private at = 0;
  private n = 0;
  private readonly ends: Uint32Array;

  constructor(count: number, sizeHint: number) {
    this.ends = new Uint32Array(count);
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, sizeHint));
  }

  addBytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.end(this.at + b.length);
  }

  addString(s: string): void {
    this.room(s.length);
    let n = this.buf.write(s, this.at);
    // A UTF-8 write stops short of the end only with fewer than 4 bytes left (a character takes at
    // most 4), so the string is measured only then, not every time.
    if (this.buf.length - this.at - n < 4) {
      const len = Buffer.byteLength(s);
      if (n < len) {
        this.room(len);
        n = this.buf.write(s, this.at);
      }
    }
    this.end(this.at + n);
  }

  skip(): void {
    this.end(this.at);
  }

  /** The pack, and the buffers to transfer with it (the packer is not to be used after). */
  finish(): { pack: JsonPack; transfer: ArrayBuffer[] } {
    if (this.n !== this.ends.length) throw new Error(`JsonPacker: ${this.n} of ${this.ends.length} texts added`);
    return { pack: { bytes: this.buf.subarray(0, this.at), ends: this.ends }, transfer: [this.buf.buffer as ArrayBuffer, this.ends.buffer as ArrayBuffer] };
  }

  private end(at: number): void {
    this.at = at;
    this.ends[this.n++] = at;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.at + n, this.buf.length * 2));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

/** Text i of a pack as a view of its buffer (no copy); empty when it was left out. */
export function packed(p: JsonPack, i: number): Buffer {
  const start = i === 0 ? 0 : p.ends[i - 1]!;
  return Buffer.from(p.bytes.buffer, p.bytes.byteOffset + start, p.ends[i]! - start);
}
