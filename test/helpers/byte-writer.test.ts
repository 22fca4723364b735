import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../src/helpers/byte-writer.js';

describe('ByteWriter', () => {
  it('appends bytes, UTF-8 strings and single bytes across growth, each outgrown buffer given back once', () => {
    const released: Buffer[] = [];
    const allocated: Buffer[] = [];
    const w = new ByteWriter(3, (n) => (allocated.push(Buffer.allocUnsafeSlow(n)), allocated.at(-1)!), (b) => released.push(b));
    const parts = ['{"a":1}', 'é ✓ 😀 \u2028', 'x'.repeat(100), '😀'.repeat(40)];
    const want: Buffer[] = [];
    for (const p of parts) {
      expect(w.string(p)).toBe(Buffer.byteLength(p));
      want.push(Buffer.from(p));
      w.bytes(Buffer.from([1, 2, 3]));
      want.push(Buffer.from([1, 2, 3]));
      w.byte(0x0a);
      want.push(Buffer.from([0x0a]));
    }
    expect(w.written().equals(Buffer.concat(want))).toBe(true);
    expect(w.at).toBe(Buffer.concat(want).length);
    expect(allocated.length).toBeGreaterThan(2);
    // every buffer but the one in use went back, each once
    expect(released).toEqual(allocated.slice(0, -1));
    expect(w.buf).toBe(allocated.at(-1));
  });

  it('a string that ends within 4 bytes of the end is measured and written whole', () => {
    for (let room = 0; room < 8; room++) {
      const w = new ByteWriter(10 + room);
      w.bytes(Buffer.alloc(10, 0x61));
      w.string('😀😀');
      expect(w.written().subarray(10).toString()).toBe('😀😀');
    }
  });
});
