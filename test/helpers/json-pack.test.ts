import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { JsonPacker, packed, type JsonPack } from '../../src/helpers/json-pack.js';

describe('JsonPacker', () => {
  it('packs bytes, strings and left-out texts end to end, grows past its size hint, and crosses a thread boundary as two transferred buffers', async () => {
    const texts = ['{"a":1}', null, JSON.stringify({ s: 'é ✓ 😀 \u2028', n: [1, 2, 3] }), 'x'.repeat(5000), null, '{}', JSON.stringify('😀'.repeat(600)), JSON.stringify('é'.repeat(3000))];
    const p = new JsonPacker(texts.length, 16);
    texts.forEach((t, i) => {
      if (t === null) p.skip();
      else if (i % 2 === 0) p.addBytes(Buffer.from(t));
      else p.addString(t);
    });
    const { pack, transfer } = p.finish();
    const { port1, port2 } = new MessageChannel();
    const got = new Promise<JsonPack>((resolve) => port2.once('message', resolve));
    port1.postMessage(pack, transfer);
    expect(transfer.every((b) => b.byteLength === 0)).toBe(true); // moved, not copied
    const other = await got;
    port1.close();
    expect(texts.map((_, i) => packed(other, i).toString('utf8'))).toEqual(texts.map((t) => t ?? ''));
  });

  it('writes a string whole when its UTF-8 is longer than the room its length asked for', () => {
    for (const text of [JSON.stringify('😀'.repeat(600)), JSON.stringify('é'.repeat(3000)), JSON.stringify(`${'x'.repeat(1020)}😀`)]) {
      const p = new JsonPacker(1, 0);
      p.addString(text);
      expect(packed(p.finish().pack, 0).toString('utf8')).toBe(text);
    }
  });

  it('refuses to finish with fewer texts than it was made for', () => {
    const p = new JsonPacker(2, 64);
    p.addString('{}');
    expect(() => p.finish()).toThrow(/1 of 2/);
  });
});
