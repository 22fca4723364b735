/**
 * A few large Buffers kept for reuse. A request body or an encoded batch of megabytes lives long
 * enough to be promoted to V8's old generation; once dead it holds its memory until the next full
 * collection, so under steady load dead copies pile up in RSS. Reusing a handful instead keeps
 * that memory flat. Only for bytes that nothing keeps a view into once they are given back.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  /** @param keep how many buffers are kept at most; @param maxBytes larger ones are never kept. */
  constructor(private readonly keep = 4, private readonly maxBytes = 8 * 1024 * 1024) {}

  /** A buffer of at least n bytes (contents undefined). */
  take(n: number): Buffer {
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= n) {
        this.free.splice(i, 1);
        return b;
      }
    }
    return Buffer.allocUnsafeSlow(n <= this.maxBytes ? Math.max(n, Math.min(this.maxBytes, n * 1.25) | 0) : n);
  }

  /** Give a buffer back; the caller must not use it, nor any view of it, afterwards. */
  give(b: Buffer): void {
    if (b.buffer.byteLength > this.maxBytes || b.byteOffset !== 0 || b.length !== b.buffer.byteLength) return;
    if (this.free.length >= this.keep) {
      // Keep the largest ones: they fit every request the smaller ones fit.
      let min = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.length < this.free[min]!.length) min = i;
      if (this.free[min]!.length >= b.length) return;
      this.free[min] = b;
      return;
    }
    this.free.push(b);
  }
}
