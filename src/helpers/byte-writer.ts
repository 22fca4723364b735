/**
 * A buffer filled from the start, grown by doubling when a write would not fit: bytes copied in,
 * strings written as UTF-8 straight into it (no intermediate Buffer per string). Buffers come
 * from `alloc` and, once outgrown, go back through `release` (a BufferPool's take and give).
 */
export class ByteWriter {
  buf: Buffer;
  at = 0;

  constructor(size: number, private readonly alloc: (n: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n), private readonly release?: (b: Buffer) => void) {
    this.buf = alloc(size);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** Writes s as UTF-8; returns the bytes written. */
  string(s: string): number {
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
    this.at += n;
    return n;
  }

  byte(x: number): void {
    this.room(1);
    this.buf[this.at++] = x;
  }

  /** What was written, a view of the buffer. */
  written(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = this.alloc(Math.max(this.at + n, this.buf.length * 2));
    this.buf.copy(bigger, 0, 0, this.at);
    this.release?.(this.buf);
    this.buf = bigger;
  }
}
