import { createHmac } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/tokenization/index.js';
import { dateFormat, decodeJwt, encodeJwt, findTokens, parameterize, RecurringValues, render, shiftDate, type TokenEntry } from '../../src/rrpair/tokens.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, b64, makeProcessor, rec, unb64 } from './helpers.js';

const HOUR = 3_600_000;
const jwt = encodeJwt({ typ: 'JWT' }, { sub: 'u1', iat: 1742258500, exp: 1742262100, nbf: 1742258500 }, 'k1');
const opts = { jwt: true, auth: true, uuid: true, dates: true, recurring: true, maxBodyBytes: 1 << 20 };

function apiCall(): RRPair {
  return {
    msgType: 'rrpair', ts: '2025-03-18T00:41:46.221941Z', l7protocol: 'http', direction: 'IN', session: 's1',
    http: {
      req: { method: 'GET', uri: '/orders/3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f?since=2025-03-17T00:00:00Z', headers: { Authorization: [`Bearer ${jwt}`], 'If-Modified-Since': ['Mon, 17 Mar 2025 10:00:00 GMT'] } },
      res: { statusCode: 200, headers: { 'Content-Type': ['application/json'], Date: ['Tue, 18 Mar 2025 00:41:46 GMT'] },
        bodyBase64: b64('{\n  "id": "3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f",\n  "created": 1742258505,\n  "createdMs": 1742258505123,\n  "updated": "2025-03-18T00:41:46.500+01:00",\n  "count": 3,\n  "note": "token in text: Bearer ' + jwt + '"\n}\n') },
    },
  };
}

describe('tokenization library', () => {
  it('detects JWT (decoded claims), bearer, UUIDs and dates with Speedscale locations', () => {
    const entries = findTokens(apiCall(), opts);
    const byLoc = (l: string) => entries.filter((e) => e.location === l);
    expect(byLoc('http.req.headers.Authorization.0')).toEqual([{ location: 'http.req.headers.Authorization.0', pattern: 'DATA_PATTERN_JWT', regex: '^Bearer\\s(.+)', replacementValue: b64(jwt), jwt: { alg: 'HS256', iat: 1742258500, exp: 1742262100, nbf: 1742258500 } }]);
    expect(byLoc('http.res.body.json.$.id')[0]).toMatchObject({ pattern: 'DATA_PATTERN_UUID', replacementValue: b64('3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f') });
    expect(byLoc('http.res.body.json.$.created')[0]).toMatchObject({ pattern: 'DATA_PATTERN_DATE', format: 'epoch_s', jsonNumber: true });
    expect(byLoc('http.res.body.json.$.createdMs')[0]).toMatchObject({ format: 'epoch_ms' });
    expect(byLoc('http.res.body.json.$.updated')[0]).toMatchObject({ format: 'rfc3339' });
    expect(byLoc('http.res.headers.Date.0')[0]).toMatchObject({ pattern: 'DATA_PATTERN_DATE', format: 'rfc1123' });
    expect(byLoc('http.req.headers.If-Modified-Since.0')[0]).toMatchObject({ format: 'rfc1123' });
    expect(byLoc('http.req.queryParams.since.0')[0]).toMatchObject({ format: 'rfc3339' });
    expect(byLoc('http.req.uri')[0]).toMatchObject({ pattern: 'DATA_PATTERN_UUID' });
    expect(byLoc('http.res.body.json.$.note')[0]).toMatchObject({ pattern: 'DATA_PATTERN_JWT' });
    expect(byLoc('http.res.body.json.$.count')).toEqual([]);
  });

  it('negative cases: no JWT, UUID or date where there is none', () => {
    const rr: RRPair = { http: { req: { uri: '/v1/files/file-abc', headers: { 'X-Id': ['3f2b8c1e9d4a4b7e8f000a1b2c3d4e5f'], 'X-V': ['eyJhbGciOi.x.y'], 'X-N': ['12345'] } },
      res: { headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64('{"n": 999, "big": 99999999999999, "d": "2025-13-45T99:00:00Z", "v": "1.2.3"}') } } };
    expect(findTokens(rr, { ...opts, recurring: false })).toEqual([]);
    expect(dateFormat(1742258505)).toBe('epoch_s');
    expect(dateFormat(1742258505000)).toBe('epoch_ms');
    expect(dateFormat(123456)).toBeUndefined();
    expect(dateFormat(5_000_000_000)).toBeUndefined(); // after 2100 in seconds, before 2000 in ms
    expect(dateFormat('2025-03-18')).toBeUndefined();
  });

  it('one entry per location and value: a value twice in one string, quoted JSON keys, a sent-back value where a token already is', () => {
    const u = '3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f';
    const json = (v: unknown) => ({ headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64(JSON.stringify(v)) });
    const memory = new RecurringValues();
    const res: RRPair = { session: 's', uuid: 'r1', http: { req: { uri: '/orders' }, res: json({ id: 'ord-12345678', "a'b": { c: u }, list: [`x ${u} y ${u}`, u] }) } };
    const where = (es: TokenEntry[]) => es.map((e) => [e.location, e.pattern, unb64(e.replacementValue)]);
    expect(where(findTokens(res, opts, memory))).toEqual([
      ["http.res.body.json.$['a\\'b'].c", 'DATA_PATTERN_UUID', u],
      ['http.res.body.json.$.list[0]', 'DATA_PATTERN_UUID', u],
      ['http.res.body.json.$.list[1]', 'DATA_PATTERN_UUID', u],
    ]);
    const req: RRPair = { session: 's', http: { req: { uri: `/orders/ord-12345678/${u}/ord%2D12345678?a=${u}&b=ord-12345678&c=ord%2d12345678+`, ...json({ ref: 'ord-12345678', u, 'a b': ['ord-12345678'] }) } } };
    const found = findTokens(req, opts, memory);
    expect(where(found)).toEqual([
      ['http.req.uri', 'DATA_PATTERN_RECURRING', 'ord-12345678'],
      ['http.req.uri', 'DATA_PATTERN_UUID', u],
      ['http.req.queryParams.a.0', 'DATA_PATTERN_UUID', u],
      ['http.req.queryParams.b.0', 'DATA_PATTERN_RECURRING', 'ord-12345678'],
      ['http.req.body.json.$.ref', 'DATA_PATTERN_RECURRING', 'ord-12345678'],
      ['http.req.body.json.$.u', 'DATA_PATTERN_UUID', u],
      ["http.req.body.json.$['a b'][0]", 'DATA_PATTERN_RECURRING', 'ord-12345678'],
    ]);
    expect(found[0]!.source).toEqual({ uuid: 'r1', location: 'http.res.body.json.$.id' });
  });

  it('shifts dates in their own format', () => {
    expect(shiftDate('2025-03-18T00:41:46.221941Z', 'rfc3339', HOUR)).toBe('2025-03-18T01:41:46.221941Z');
    expect(shiftDate('2025-03-18T00:41:46.500+01:00', 'rfc3339', 30 * 60_000 + 600)).toBe('2025-03-18T01:11:47.100+01:00');
    expect(shiftDate('2025-03-18T23:59:59Z', 'rfc3339', 1000)).toBe('2025-03-19T00:00:00Z');
    expect(shiftDate('Tue, 18 Mar 2025 00:41:46 GMT', 'rfc1123', 24 * HOUR)).toBe('Wed, 19 Mar 2025 00:41:46 GMT');
    expect(shiftDate('1742258505', 'epoch_s', HOUR)).toBe('1742262105');
    expect(shiftDate('1742258505123', 'epoch_ms', HOUR)).toBe('1742262105123');
  });

  it('recurring values: an id handed out by a response and sent back by a later request in the same session', async () => {
    const { proc, sink } = await makeProcessor(factory, {});
    const samples = allSamples().slice(2, 8); // POST /v1/files → GET /v1/files/file-… and fine-tuning jobs
    await proc.consume(samples.map((s) => rec(structuredClone(s))), {});
    const rec2 = sink.records.map((r) => r.rrpair).find((r) => /\/v1\/files\/file-/.test(String(r.http?.req?.uri)))!;
    const tokens = rec2.tokens as TokenEntry[];
    const recurring = tokens.find((t) => t.pattern === 'DATA_PATTERN_RECURRING')!;
    expect(recurring).toMatchObject({ location: 'http.req.uri', source: { location: 'http.res.body.json.$.id' } });
    expect(String(rec2.http!.req!.uri)).toContain(unb64(recurring.replacementValue));
    // a different session does not see it
    const other = structuredClone(rec2);
    delete other.tokens;
    other.session = 'another';
    const { proc: p2, sink: s2 } = await makeProcessor(factory, {});
    await p2.consume([rec(other)], {});
    expect(((s2.records[0]!.rrpair.tokens as TokenEntry[] | undefined) ?? []).some((t) => t.pattern === 'DATA_PATTERN_RECURRING')).toBe(false);
  });

  it('render(parameterize(x)) at offset 0 gives back x: real samples and a JSON body with numbers', () => {
    // Bodies stored gzip-compressed come back with the same content, not the same gzip bytes.
    const gunzipped = (r: RRPair) => {
      const c = structuredClone(r);
      for (const part of [c.http?.req, c.http?.res]) {
        const raw = part?.bodyBase64 ? Buffer.from(part.bodyBase64, 'base64') : undefined;
        if (raw && raw[0] === 0x1f && raw[1] === 0x8b) part!.bodyBase64 = gunzipSync(raw).toString('base64');
      }
      return c;
    };
    let gz = 0;
    let exact = 0;
    for (const x of [...allSamples(), apiCall()]) {
      const p = structuredClone(x);
      const entries = findTokens(p, opts);
      parameterize(p, entries);
      p.tokens = entries;
      if (entries.length) expect(JSON.stringify(p)).not.toEqual(JSON.stringify(x));
      const out = render(p).rrpair;
      if (JSON.stringify(gunzipped(x)) !== JSON.stringify(x)) gz++;
      else {
        expect(out).toEqual(x);
        exact++;
      }
      expect(gunzipped(out)).toEqual(gunzipped(x));
    }
    expect(gz).toBeGreaterThan(0);
    expect(exact).toBeGreaterThanOrEqual(3);
  });

  it('parameterize replaces values by placeholders, keeping a JSON body valid', () => {
    const p = apiCall();
    const entries = findTokens(p, opts);
    parameterize(p, entries);
    const body = JSON.parse(unb64(p.http!.res!.bodyBase64!));
    expect(body.id).toMatch(/^\{\{rrp:\d+\}\}$/);
    expect(body.created).toMatch(/^\{\{rrp:\d+\}\}$/);
    expect(p.http!.req!.headers!.Authorization![0]).toMatch(/^Bearer \{\{rrp:\d+\}\}$/);
    expect(p.http!.req!.uri).toMatch(/^\/orders\/\{\{rrp:\d+\}\}\?since=\{\{rrp:\d+\}\}$/);
    expect(entries.find((e) => e.location === 'http.res.body.json.$.id')!.placeholder).toBe(entries.find((e) => e.location === 'http.req.uri')!.placeholder);
  });

  it('render with an offset shifts dates and re-dates and re-signs JWTs (HS256), or leaves them unsigned with a warning', () => {
    const p = apiCall();
    const entries = findTokens(p, opts);
    parameterize(p, entries);
    p.tokens = entries;
    const { rrpair: out, warnings } = render(p, { offsetMs: 2 * HOUR, jwtKey: 'replay-key' });
    expect(warnings).toEqual([]);
    const body = JSON.parse(unb64(out.http!.res!.bodyBase64!));
    expect(body.created).toBe(1742258505 + 7200);
    expect(body.createdMs).toBe(1742258505123 + 2 * HOUR);
    expect(body.updated).toBe('2025-03-18T02:41:46.500+01:00');
    expect(out.http!.res!.headers!.Date).toEqual(['Tue, 18 Mar 2025 02:41:46 GMT']);
    const tok = out.http!.req!.headers!.Authorization![0]!.replace('Bearer ', '');
    const d = decodeJwt(tok)!;
    expect(d.claims).toMatchObject({ sub: 'u1', iat: 1742258500 + 7200, exp: 1742262100 + 7200 });
    const [h, c, sig] = tok.split('.');
    expect(sig).toBe(createHmac('sha256', 'replay-key').update(`${h}.${c}`).digest('base64url'));
    expect(body.note).toBe(`token in text: Bearer ${tok}`);
    expect(out.tokens).toBeUndefined();
    const unsigned = render(p, { offsetMs: HOUR });
    expect(unsigned.warnings.length).toBeGreaterThan(0);
    expect(decodeJwt(unsigned.rrpair.http!.req!.headers!.Authorization![0]!.slice(7))!.header.alg).toBe('none');
  });

  it('render of annotate-mode entries substitutes the values too, and keeps the entries', () => {
    const a = apiCall();
    a.tokens = findTokens(a, opts);
    const { rrpair } = render(a, { offsetMs: HOUR });
    expect(rrpair.http!.res!.headers!.Date).toEqual(['Tue, 18 Mar 2025 01:41:46 GMT']);
    expect((rrpair.tokens as TokenEntry[]).length).toBe((a.tokens as TokenEntry[]).length);
    expect((rrpair.tokens as TokenEntry[]).every((t) => t.placeholder === undefined)).toBe(true);
    expect(render(a).rrpair).toEqual(a);
  });

  it('fresh UUIDs are consistent within one render', () => {
    const p = apiCall();
    const e = findTokens(p, opts);
    parameterize(p, e);
    p.tokens = e;
    const out = render(p, { freshUuids: true }).rrpair;
    const id = JSON.parse(unb64(out.http!.res!.bodyBase64!)).id as string;
    expect(id).not.toBe('3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f');
    expect(out.http!.req!.uri).toContain(id);
  });
});

describe('tokenization processor', () => {
  it('annotate adds entries only; parameterize replaces values; existing entries are kept', async () => {
    const a = await makeProcessor(factory, { mode: 'annotate' });
    const x = apiCall();
    const original = structuredClone(x);
    await a.proc.consume([rec(x)], {});
    const out = a.sink.records[0]!.rrpair;
    const { tokens, ...rest } = out;
    expect(rest).toEqual(original);
    expect((tokens as TokenEntry[]).length).toBeGreaterThan(5);

    const p = await makeProcessor(factory, { mode: 'parameterize' });
    const y = { ...apiCall(), tokens: [{ location: 'x', pattern: 'OLD', replacementValue: '' }] };
    await p.proc.consume([rec(y)], {});
    const py = p.sink.records[0]!.rrpair;
    expect((py.tokens as TokenEntry[])[0]!.pattern).toBe('OLD');
    expect(py.http!.req!.headers!.Authorization![0]).toMatch(/\{\{rrp:/);
    expect(render(py).rrpair).toEqual({ ...apiCall(), tokens: [{ location: 'x', pattern: 'OLD', replacementValue: '' }] });
  });

  it('bad input passes through unchanged and counted; a 50 MB body is not looked into', async () => {
    const { proc, sink, telemetry } = await makeProcessor(factory, { max_body_size: '8MiB' });
    const big = { http: { res: { headers: { 'Content-Type': ['application/json'] }, bodyBase64: Buffer.alloc(50 << 20, 'a').toString('base64') } } } as RRPair;
    const bad = [{}, { http: 'x' }, { http: { req: { headers: 'h', uri: 5 }, res: { headers: { Date: [1] }, bodyBase64: 7 } } }, { tokens: 'in use', http: { req: { headers: { Authorization: ['Bearer abcdef'] } } } }, big] as unknown as RRPair[];
    await proc.consume([...bad.map((b) => rec(b)), { rrpair: null } as never], {});
    expect(sink.records).toHaveLength(bad.length + 1);
    expect(sink.records[3]!.rrpair.tokens).toBe('in use');
    expect(sink.records[4]!.rrpair.tokens).toBeUndefined();
    expect(await telemetry.text()).toMatch(/rrpipe_tokenization_skipped_total\{[^}]*reason="field_in_use"[^}]*\} 1/);
    expect(await telemetry.text()).toMatch(/rrpipe_tokenization_skipped_total\{[^}]*reason="error"[^}]*\} 1/);
    expect(await telemetry.text()).toMatch(/rrpipe_tokenization_bodies_skipped_total\{[^}]*reason="too_large"[^}]*\} 1/);
  });
});
