import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/tokenization/index.js';
import { decodeBody } from '../../src/rrpair/body.js';
import { gunzipBodies } from '../../src/rrpair/tokens.js';
import { MAX_TOTAL } from '../../src/rrpair/token-inflate.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, makeProcessor, rec } from './helpers.js';

const gz = (s: string | Buffer) => gzipSync(s).toString('base64');
const part = (bodyBase64: string) => ({ headers: { 'Content-Type': ['application/json'] }, bodyBase64 });
const texts = (m: Map<object, { bytes: Buffer }>, parts: object[]) => parts.map((p) => m.get(p)?.bytes.toString('utf8'));

describe('gunzipBodies (one zlib call for a batch of gzip bodies)', () => {
  it('gives each gzip body its own bytes, the same as decodeBody, and leaves other bodies out', () => {
    const bodies = ['{"id":"ftevent-1","created_at":1742258758}', '', 'x'.repeat(70_000), '{"n": "é ü"}'];
    const parts = [...bodies.map((b) => part(gz(b))), part(Buffer.from('{"plain":true}').toString('base64'))];
    const got = gunzipBodies(parts, 1 << 20);
    expect(texts(got, parts)).toEqual([...bodies, undefined]);
    for (const p of parts.slice(0, 4)) {
      const dec = decodeBody(p.bodyBase64, p.headers, 1 << 20);
      expect(dec.ok && dec.bytes.equals(got.get(p)!.bytes)).toBe(true);
    }
  });

  it('returns nothing when the bodies cannot be cut apart by their trailers: trailing bytes, two members, a corrupt body', () => {
    const a = gzipSync('{"a":"first body"}');
    const b = gzipSync('{"b":"second body"}');
    const cases = [
      Buffer.concat([a, Buffer.alloc(8)]).toString('base64'), // trailing zeros: gunzip stops there
      Buffer.concat([a, b]).toString('base64'), // two members: the trailer gives only the last one's size
      Buffer.concat([a.subarray(0, a.length - 9), Buffer.from([a[a.length - 9]! ^ 0xff]), a.subarray(a.length - 8)]).toString('base64'),
    ];
    for (const odd of cases) {
      const parts = [part(gz('{"before":1}')), part(odd), part(b.toString('base64'))];
      expect(gunzipBodies(parts, 1 << 20).size).toBe(0);
    }
  });

  it('leaves out bodies over the size limit (by base64 size or by the trailer), so decodeBody reports them', () => {
    const small = part(gz('{"ok":1}'));
    const big = part(gz('y'.repeat(5000)));
    const got = gunzipBodies([small, big, part(gz('{"ok":2}'))], 1000);
    expect(got.has(big)).toBe(false);
    expect(texts(got, [small])).toEqual(['{"ok":1}']);
  });

  it('takes bodies only up to MAX_TOTAL inflated bytes a batch, so a batch of large bodies is not all held at once', () => {
    const each = Math.floor((MAX_TOTAL - 100) / 3);
    const parts = [0, 1, 2, 3].map((i) => part(gz(String(i).repeat(each))));
    const got = gunzipBodies([...parts, part(gz('{"small":1}'))], 0);
    expect(got.size).toBe(4);
    expect(got.has(parts[3]!)).toBe(false);
    expect(got.get(parts[2]!)!.bytes.length).toBe(each);
  });

  it('the processor finds the same entries with and without it (real samples, one record per batch vs whole batches)', async () => {
    const samples = allSamples().slice(0, 60);
    const gzipped = samples.filter((s) => (s.http?.res?.bodyBase64 ?? '').startsWith('H4sI')).length;
    expect(gzipped).toBeGreaterThan(10);
    const one = await makeProcessor(factory);
    const all = await makeProcessor(factory);
    for (const s of samples) await one.proc.consume([rec(structuredClone(s))], {});
    await all.proc.consume(samples.map((s) => rec(structuredClone(s))), {});
    const tokens = (recs: { rrpair: RRPair }[]) => recs.map((r) => r.rrpair.tokens);
    expect(tokens(all.sink.records)).toEqual(tokens(one.sink.records));
    expect(tokens(all.sink.records).flat().length).toBeGreaterThan(100);
  });
});
