import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { JsonPacker, packed, type JsonPack } from '../../src/helpers/json-pack.js';

describe('JsonPacker', () => {
  it('packs bytes, strings and left-out texts end to end, grows past its size hint, and crosses a thread boundary as two transferred buffers', async () => {
    const texts = ['{"a":1}', null, JSON.stringify({ s: 'é ✓ 😀 \u2028', n: [1, 2, 3] }), 'x'.repeat(5000), null, '{}'];
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

  it('refuses to finish with fewer texts than it was made for', () => {
    const p = new JsonPacker(2, 64);
    p.addString('{}');
    expect(() => p.finish()).toThrow(/1 of 2/);
  });
});
