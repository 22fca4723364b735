import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { noopMetrics } from '../../src/core/telemetry.js';
import { factory, type RedactionProcessor } from '../../src/processors/redaction/index.js';
import { BodyInflater } from '../../src/processors/redaction/inflate.js';
import { Redactor } from '../../src/processors/redaction/redactor.js';
import { decodeBody } from '../../src/rrpair/body.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { requireBuild } from '../support/index.js';
import { allSamples, configOf, makeProcessor, rec } from './helpers.js';

const gz = (s: string | Buffer) => gzipSync(s).toString('base64');
const rr = (res: string, req?: string): RRPair =>
  ({ http: { req: { url: '/x', headers: {}, ...(req ? { bodyBase64: req } : {}) }, res: { headers: { 'Content-Type': ['application/json'] }, bodyBase64: res } } }) as never;
const resOf = (r: RRPair) => r.http!.res as object;

const open: BodyInflater[] = [];
const inflater = (maxBytes = 1 << 20, limit = 16 << 20) => {
  const i = new BodyInflater(maxBytes, limit, 'test gunzip', (err) => { throw err; });
  open.push(i);
  return i;
};
beforeAll(() => requireBuild()); // the worker runs inflate.ts's build in dist/
afterEach(async () => {
  await Promise.all(open.splice(0).map((i) => i.close()));
});

describe('BodyInflater (gzip bodies of a batch gunzipped in a worker thread)', () => {
  it('gives each gzip body the bytes decodeBody gives, and leaves plain bodies out', async () => {
    const texts = ['{"id":"ftevent-1","created_at":1742258758}', '', 'x'.repeat(70_000), '{"n": "é ü"}'];
    const rrs = [...texts.map((t) => rr(gz(t), gz('{"q":1}'))), rr(Buffer.from('{"plain":true}').toString('base64'))];
    const got = await inflater().inflate(rrs);
    expect(rrs.map((r) => got.get(resOf(r))?.bytes.toString('utf8'))).toEqual([...texts, undefined]);
    for (const r of rrs.slice(0, 4)) {
      for (const part of [r.http!.req!, r.http!.res!]) {
        const dec = decodeBody(part.bodyBase64 as string, undefined, 1 << 20);
        expect(dec.ok && dec.bytes.equals(got.get(part)!.bytes)).toBe(true);
        expect(got.get(part)!.b64).toBe(part.bodyBase64);
      }
    }
  });

  it('leaves out, body by body, what decodeBody would not gunzip whole to its trailer size: corrupt, two members, trailing bytes, bad base64', async () => {
    const a = gzipSync('{"a":"first body"}');
    const b = gzipSync('{"b":"second body"}');
    const odd = [
      Buffer.concat([a.subarray(0, a.length - 9), Buffer.from([a[a.length - 9]! ^ 0xff]), a.subarray(a.length - 8)]).toString('base64'), // CRC mismatch
      Buffer.concat([a, b]).toString('base64'), // two members: the output is longer than the last trailer says
      Buffer.concat([a, Buffer.alloc(8)]).toString('base64'), // trailing zeros: the trailer read is not the member's
      `${gz('{"c":1}').slice(0, -4)}*@!=`, // not base64
    ];
    const good = [rr(gz('{"before":1}')), rr(b.toString('base64'))];
    const rrs = [good[0]!, ...odd.map((o) => rr(o)), good[1]!];
    const got = await inflater().inflate(rrs);
    expect(good.map((r) => got.get(resOf(r))?.bytes.toString('utf8'))).toEqual(['{"before":1}', '{"b":"second body"}']);
    for (const r of rrs.slice(1, -1)) expect(got.has(resOf(r))).toBe(false);
  });

  it('leaves out bodies over max_body_size and bodies past the batch limit, so walkBody decodes and reports them', async () => {
    const small = rr(gz('{"ok":1}'));
    const big = rr(gz('y'.repeat(5000)));
    const got = await inflater(1000).inflate([small, big, rr(gz('{"ok":2}'))]);
    expect(got.has(resOf(big))).toBe(false);
    expect(got.get(resOf(small))!.bytes.toString()).toBe('{"ok":1}');
    const each = [0, 1, 2].map((i) => rr(gz(String(i).repeat(400))));
    const capped = await inflater(0, 900).inflate(each);
    expect(each.map((r) => capped.has(resOf(r)))).toEqual([true, true, false]);
  });

  it('once closed (as when its worker cannot run) it gives nothing, and every body is left to walkBody', async () => {
    const i = inflater();
    const r = rr(gz('{"ok":1}'));
    expect((await i.inflate([r])).size).toBe(1);
    await i.close();
    expect((await i.inflate([r])).size).toBe(0);
  });

  it('the processor uses it only with gunzip_thread (and not with workers)', async () => {
    const made = await Promise.all([{}, { gunzip_thread: true }, { gunzip_thread: true, workers: 1 }].map((c) => makeProcessor(factory, { secret: 'k', ...c })));
    expect(made.map((m) => (m.proc as unknown as { inflater?: object }).inflater !== undefined)).toEqual([false, true, false]);
    await Promise.all(made.map((m) => (m.proc as RedactionProcessor).shutdown()));
  });

  it('says at start that gunzip_thread is not used when workers redact', async () => {
    const lines: string[] = [];
    const logTo = new PassThrough();
    logTo.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    const make = async (raw: object) => {
      const proc = (await factory.create({ id: 'redaction', kind: 'processor', config: configOf(factory, { secret: 'k', ...raw }), logger: createLogger('warn', logTo), metrics: noopMetrics(), pipeline: 'test', configDir: process.cwd() }, { consume: async () => {} })) as RedactionProcessor;
      await proc.shutdown();
    };
    await make({ workers: 1 });
    await make({ gunzip_thread: true });
    expect(lines.join('')).not.toContain('gunzip_thread');
    await make({ gunzip_thread: true, workers: 1 });
    await new Promise((r) => setImmediate(r));
    expect(lines.join('')).toContain('gunzip_thread is not used with workers');
  });

  it('with gunzip_thread the processor gives the same records, attributes and counts as Redactor.redact one record at a time (real samples, odd gzip bodies)', async () => {
    const a = gzipSync('{"password":"hunter2hunter2","card":"4111 1111 1111 1111"}');
    const extra = [
      rr(Buffer.concat([a, gzipSync('{"token":"abcdefabcdef1234"}')]).toString('base64')),
      rr(Buffer.concat([a.subarray(0, 30), Buffer.from(' in the clear: someone@example.com ')]).toString('base64')),
      rr(gz('{"email":"someone@example.com"}')),
      rr(Buffer.from('{"ssn":"123-45-6789"}').toString('base64')),
    ];
    const inputs = [...allSamples().slice(0, 80), ...extra];
    const raw = { secret: 'k', summary_attribute: 'dlp', max_body_size: '64KiB' };
    const { proc, sink, telemetry } = await makeProcessor(factory, { ...raw, gunzip_thread: true });
    for (let i = 0; i < inputs.length; i += 25) await proc.consume(inputs.slice(i, i + 25).map((s) => rec(structuredClone(s))), {});
    await (proc as RedactionProcessor).shutdown();
    // the reference: every body decoded on the event loop by decodeBody, one record at a time
    const redactor = new Redactor(configOf(factory, raw));
    const expected = inputs.map((s) => {
      const copy = structuredClone(s);
      if (redactor.redact(copy).findings.length) Object.assign(copy, { dlpModified: true, dlpRule: 'rrpipe-default' });
      return copy;
    });
    expect(sink.records.map((r) => r.rrpair)).toEqual(expected);
    expect(sink.records.filter((r) => r.attributes.dlp).length).toBeGreaterThan(60);
    // the odd bodies: two members (both redacted), a corrupt one (its clear bytes scanned), gzip, plain
    expect(sink.records.slice(-4).map((r) => r.rrpair.dlpModified)).toEqual([true, true, true, true]);
    expect(await telemetry.text()).toMatch(/^rrpipe_redaction_values_total\{[^}]*category="CREDIT_CARD"[^}]*\} [1-9]/m);
  });
});
