import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { factory as attributes } from '../../src/processors/attributes/index.js';
import { factory as resource } from '../../src/processors/resource/index.js';
import { readJsonl, sampleFiles } from '../support/samples.js';
import { configOf, makeProcessor } from './helpers.js';

/*
 * OTel semantics: processor/attributesprocessor README and internal/coreinternal/attraction
 * (attraction.go, type_converter.go, hasher.go); include/exclude per the README's
 * "Include/Exclude Filtering" section.
 */

const rec = (attrs: Record<string, unknown>, res: Record<string, unknown> = {}, rr: Record<string, unknown> = {}): RRRecord =>
  newRecord({ ts: '2025-01-01T00:00:00Z', l7protocol: 'http', ...rr }, { attributes: attrs as RRRecord['attributes'], resource: res as RRRecord['resource'] });

async function run(cfg: unknown, input: RRRecord[], ctx = {}) {
  const { proc, sink } = await makeProcessor(attributes, cfg);
  await proc.consume(input, ctx);
  return sink.records;
}

describe('attributes processor actions', () => {
  it('insert only when absent, update only when present, upsert always; value keeps its YAML type', async () => {
    const [r] = await run({
      actions: [
        { key: 'a', action: 'insert', value: 'new' },
        { key: 'b', action: 'insert', value: 2245 },
        { key: 'a', action: 'update', value: 'changed' },
        { key: 'c', action: 'update', value: 'nope' },
        { key: 'd', action: 'UPSERT', value: true },
        { key: 'm', action: 'upsert', value: { nested: [1, 2] } },
      ],
    }, [rec({ a: 'old' })]);
    expect(r!.attributes).toEqual({ a: 'changed', b: 2245, d: true, m: { nested: [1, 2] } });
  });

  it('from_attribute copies (absent source: nothing), default_value fills in, from_context reads request metadata', async () => {
    const [r] = await run({
      actions: [
        { key: 'copy', action: 'insert', from_attribute: 'service' },
        { key: 'none', action: 'insert', from_attribute: 'absent' },
        { key: 'region', action: 'insert', from_attribute: 'cloud.region', default_value: 'us-east-1' },
        { key: 'tenant', action: 'upsert', from_context: 'metadata.x-tenant' },
        { key: 'missing', action: 'upsert', from_context: 'x-absent' },
      ],
    }, [rec({ service: 'web' })], { metadata: new Map([['X-Tenant', ['t1', 't2']]]) });
    expect(r!.attributes).toEqual({ service: 'web', copy: 'web', region: 'us-east-1', tenant: 't1;t2' });
  });

  it('delete by key and by RE2 pattern over names', async () => {
    const [r] = await run({ actions: [{ key: 'a', action: 'delete' }, { action: 'delete', pattern: '(?i)^http\\.request\\.header\\.' }] },
      [rec({ a: 1, b: 2, 'http.request.header.Authorization': 'x', 'HTTP.REQUEST.HEADER.cookie': 'y' })]);
    expect(r!.attributes).toEqual({ b: 2 });
  });

  it('hash: SHA-256 hex of the value bytes (string UTF-8, int64 and float64 little-endian, bool one byte)', async () => {
    const [r] = await run({ actions: [{ key: 's', action: 'hash' }, { key: 'i', action: 'hash' }, { key: 'f', action: 'hash' }, { key: 'b', action: 'hash' }, { action: 'hash', pattern: '^email' }] },
      [rec({ s: 'abc', i: 200, f: 1.5, b: true, email_home: 'abc', other: 'abc' })]);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const le = Buffer.alloc(8);
    le.writeBigInt64LE(200n);
    const dbl = Buffer.alloc(8);
    dbl.writeDoubleLE(1.5);
    expect(r!.attributes).toEqual({
      s: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', // the FIPS 180-2 "abc" vector
      i: sha(le),
      f: sha(dbl),
      b: sha(Buffer.from([1])),
      email_home: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      other: 'abc',
    });
  });

  it('extract: named groups of the first match become attributes; the source stays; non-strings are skipped', async () => {
    const [r, n, ...rest] = await run({ actions: [{ key: 'http.url', action: 'extract', pattern: '^https?://(?P<host>[^/]+)(?P<path>/[^?]*)(?:\\?(?P<query>.*))?' }] },
      [rec({ 'http.url': 'https://api.local/v1/orders?id=7' }), rec({ 'http.url': 42 }), rec({ 'http.url': 'http://h/p', query: 'old' })]);
    expect(r!.attributes).toEqual({ 'http.url': 'https://api.local/v1/orders?id=7', host: 'api.local', path: '/v1/orders', query: 'id=7' });
    expect(n!.attributes).toEqual({ 'http.url': 42 });
    expect(rest[0]!.attributes).toEqual({ 'http.url': 'http://h/p', host: 'h', path: '/p', query: '' }); // an unmatched group gives "", as Go's FindStringSubmatch
  });

  it('convert to int, double, string; a value that cannot convert stays as it is', async () => {
    const [r] = await run({
      actions: [
        { key: 'code', action: 'convert', converted_type: 'int' },
        { key: 'bad', action: 'convert', converted_type: 'int' },
        { key: 'f', action: 'convert', converted_type: 'int' },
        { key: 'ratio', action: 'convert', converted_type: 'double' },
        { key: 'n', action: 'convert', converted_type: 'string' },
        { key: 'flag', action: 'convert', converted_type: 'string' },
      ],
    }, [rec({ code: '200', bad: '2.5', f: -2.7, ratio: '0.25', n: 7, flag: false })]);
    expect(r!.attributes).toEqual({ code: 200, bad: '2.5', f: -2, ratio: 0.25, n: '7', flag: 'false' });
  });

  it('config errors as OTel reports them', () => {
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'insert' }] })).toThrow(/needs one of "value"/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'insert', value: 1, from_attribute: 'b' }] })).toThrow(/only one of/);
    expect(() => configOf(attributes, { actions: [{ action: 'delete' }] })).toThrow(/"key" and\/or "pattern"/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'extract', pattern: '(x)' }] })).toThrow(/must be named/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'extract', pattern: '(?P<a>x)\\1' }] })).toThrow(/invalid regex/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'rename' }] })).toThrow(/unsupported action/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'convert' }] })).toThrow(/converted_type/);
    expect(() => configOf(attributes, { actions: [{ key: 'a', action: 'delete' }], include: { match_type: 'strict' } })).toThrow(/at least one of/);
  });
});

describe('attributes processor include/exclude (strict and regexp)', () => {
  const action = { key: 'marked', action: 'insert', value: true };
  const input = () => [
    rec({ service: 'web', code: 200 }, { cluster: 'prod-1' }),
    rec({ service: 'api', code: 500 }, { cluster: 'prod-2' }),
    rec({ service: 'web' }, { cluster: 'dev' }),
  ];
  const marked = (rs: RRRecord[]) => rs.map((r) => (r.attributes as Record<string, unknown>).marked === true);

  it('strict: every listed attribute must be equal (typed) or, without a value, present', async () => {
    expect(marked(await run({ actions: [action], include: { match_type: 'strict', attributes: [{ key: 'service', value: 'web' }] } }, input()))).toEqual([true, false, true]);
    expect(marked(await run({ actions: [action], include: { match_type: 'strict', attributes: [{ key: 'service', value: 'web' }, { key: 'code' }] } }, input()))).toEqual([true, false, false]);
    expect(marked(await run({ actions: [action], include: { match_type: 'strict', attributes: [{ key: 'code', value: '200' }] } }, input()))).toEqual([false, false, false]);
  });

  it('regexp over resources, and exclude after include', async () => {
    expect(marked(await run({ actions: [action], include: { match_type: 'regexp', resources: [{ key: 'cluster', value: '^prod-' }] } }, input()))).toEqual([true, true, false]);
    expect(marked(await run({
      actions: [action],
      include: { match_type: 'regexp', resources: [{ key: 'cluster', value: '^prod-' }] },
      exclude: { match_type: 'strict', attributes: [{ key: 'code', value: 500 }] },
    }, input()))).toEqual([true, false, false]);
  });

  it('log_bodies match the RRPair as JSON; severity: rrpipe records have none', async () => {
    const rs = [rec({}, {}, { service: 'payments' }), rec({}, {}, { service: 'web' })];
    expect(marked(await run({ actions: [action], include: { match_type: 'regexp', log_bodies: ['"service":"payments"'] } }, rs))).toEqual([true, false]);
    expect(marked(await run({ actions: [action], include: { match_type: 'strict', log_severity_number: { min: 9, match_undefined: true } } }, input()))).toEqual([true, true, true]);
    expect(marked(await run({ actions: [action], include: { match_type: 'strict', log_severity_number: { min: 9 } } }, input()))).toEqual([false, false, false]);
  });

  it('works on sample RRPairs: hashes a header-derived attribute on outbound records only', async () => {
    const pairs = sampleFiles().flatMap(readJsonl).slice(0, 4);
    const rs = pairs.map((rr, i) => newRecord(rr, { attributes: { direction: i % 2 ? 'OUT' : 'IN', 'user.agent': String(rr.http?.req?.headers?.['User-Agent']?.[0] ?? 'none') } }));
    const before = rs.map((r) => r.attributes['user.agent']);
    const out = await run({ actions: [{ key: 'user.agent', action: 'hash' }], include: { match_type: 'strict', attributes: [{ key: 'direction', value: 'OUT' }] } }, rs);
    out.forEach((r, i) => {
      const v = r.attributes['user.agent'];
      if (i % 2) expect(v).toBe(createHash('sha256').update(String(before[i])).digest('hex'));
      else expect(v).toBe(before[i]);
    });
  });
});

describe('resource processor', () => {
  it('applies the actions to resource attributes only', async () => {
    const { proc, sink } = await makeProcessor(resource, {
      attributes: [
        { key: 'cloud.region', action: 'insert', value: 'eu-west-1' },
        { key: 'cluster', action: 'upsert', from_attribute: 'k8s.cluster.name' },
        { key: 'secret', action: 'delete' },
        { key: 'port', action: 'convert', converted_type: 'int' },
      ],
    });
    await proc.consume([rec({ secret: 'log-attr-stays' }, { 'k8s.cluster.name': 'c9', cluster: 'old', secret: 'x', port: '8080' })], {});
    const r = sink.records[0]!;
    expect(r.resource).toEqual({ 'k8s.cluster.name': 'c9', cluster: 'c9', port: 8080, 'cloud.region': 'eu-west-1' });
    expect(r.attributes).toEqual({ secret: 'log-attr-stays' });
  });

  it('needs at least one action, as OTel does', () => {
    expect(() => configOf(resource, {})).toThrow(/attributes/);
  });
});
