import { createHmac } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DETECTORS, isCardNumber, luhn, sensitiveKeyCategory, type DetectorName } from '../../src/processors/redaction/detectors.js';
import { factory } from '../../src/processors/redaction/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, b64, configOf, makeProcessor, rec, unb64 } from './helpers.js';

const SECRET = 'test-secret';
const mac = (v: string) => createHmac('sha256', SECRET).update(v).digest('hex').slice(0, 20);

async function redactOne(rr: RRPair, cfg: Record<string, unknown> = {}) {
  const { proc, sink, telemetry } = await makeProcessor(factory, { secret: SECRET, summary_attribute: 'redaction', ...cfg });
  await proc.consume([rec(rr)], {});
  return { rr: sink.records[0]?.rrpair as RRPair, record: sink.records[0], telemetry };
}

function jsonReq(body: unknown, headers: Record<string, string[]> = {}): RRPair {
  return { l7protocol: 'http', http: { req: { method: 'POST', uri: '/x', headers: { 'Content-Type': ['application/json'], ...headers }, bodyBase64: b64(JSON.stringify(body)) } } };
}
const bodyOf = (rr: RRPair, side: 'req' | 'res' = 'req') => unb64(rr.http![side]!.bodyBase64!);

function findAll(d: DetectorName, s: string): string[] {
  const det = DETECTORS[d];
  det.regex.lastIndex = 0;
  return [...s.matchAll(det.regex)].map((m) => (det.group ? m[det.group]! : m[0])).filter((c) => !det.valid || det.valid(c));
}

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\nabcdEFGH==\n-----END RSA PRIVATE KEY-----';

describe('detectors: positive and negative', () => {
  const cases: [DetectorName, string[], string[]][] = [
    ['jwt', [JWT], ['eyJhbGciOi.notjwt', 'eyJub3RhIjoiaGVhZGVyIn0.eyJhIjoxfQ.sig' /* header without alg/typ */, 'a.b.c']],
    ['aws_access_key', ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A'], ['AKIA1234', 'XKIAIOSFODNN7EXAMPLE', 'akiaiosfodnn7example']],
    ['bearer', ['Bearer abc123def456', 'authorization: Basic dXNlcjpwYXNz'], ['Bearer', 'the bearer of news', 'Bearer abc']],
    ['private_key', [PEM, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'], ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', '-----BEGIN CERTIFICATE-----']],
    ['credit_card', ['4111 1111 1111 1111', '5500-0000-0000-0004', '378282246310005', '4242424242424242'], ['4111 1111 1111 1112', '1234567890123456', '0000000000000000', '4111-1111', '2025-03-18']],
    ['email', ['jane.doe+tag@example.co.uk', 'a@b.io'], ['jane@localhost', '@example.com', 'user at example.com']],
    ['ssn', ['123-45-6789', 'ssn 078-05-1120'], ['000-12-3456', '666-12-3456', '123-00-6789', '123-45-0000', '123456789', '2025-03-18']],
    ['phone', ['+14155552671', '+442071838750'], ['14155552671', '+0123456789', '+1234', 'a+14155552671']],
    ['ip', ['10.0.0.1', '192.168.1.254', '2001:db8::1', 'fe80::1ff:fe23:4567:890a'], ['1.0.1.1.5', '256.1.1.1', 'v0.1.0', '12:30:45', 'go1.23.2']],
  ];
  for (const [name, pos, neg] of cases) {
    it(`${name}`, () => {
      for (const p of pos) expect(findAll(name, `x ${p} y`), `${name} should find ${p}`).not.toEqual([]);
      for (const n of neg) expect(findAll(name, `x ${n} y`), `${name} should not find ${n}`).toEqual([]);
    });
  }

  it('Luhn and card prefixes', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('79927398710')).toBe(false);
    expect(isCardNumber('4111111111111111')).toBe(true);
    expect(isCardNumber('9111111111111119')).toBe(false); // no such issuer, even if the checksum holds
  });

  it('sensitive key names, whole words only', () => {
    for (const k of ['Authorization', 'Cookie', 'Set-Cookie', 'password', 'client_secret', 'X-Api-Key', 'api_key', 'apiKey', 'x-amz-security-token', 'accessToken', 'refresh_token'])
      expect(sensitiveKeyCategory(k), k).toBeDefined();
    for (const k of ['password_hash', 'aws_secret_access_key', 'X-Auth', 'session_id', 'id_token']) expect(sensitiveKeyCategory(k), k).toBeDefined();
    for (const k of ['X-Ratelimit-Remaining-Tokens', 'max_tokens', 'Content-Type', 'author', 'keyboard', 'monkey', 'token_type', 'train_mean_token_accuracy', 'auth_method', 'secretary'])
      expect(sensitiveKeyCategory(k), k).toBeUndefined();
  });
});

describe('redaction processor', () => {
  it('no secret in the real samples survives the default rules: headers, cookies, bodies, signature, tokenList, session', async () => {
    const samples = allSamples();
    const secrets = new Set<string>();
    for (const s of samples) {
      for (const [side, part] of Object.entries(s.http ?? {})) {
        for (const [k, vals] of Object.entries((part as { headers?: Record<string, string[]> }).headers ?? {})) {
          if (/^authorization$/i.test(k)) for (const v of vals) secrets.add(v.replace(/^Bearer /, ''));
          if (/^(set-)?cookie$/i.test(k)) for (const v of vals) for (const m of v.matchAll(/(?:^|;\s*)(__cf_bm|_cfuvid)=([^;]+)/g)) secrets.add(m[2]!);
        }
        void side;
      }
    }
    expect(secrets.size).toBeGreaterThan(100);
    const { proc, sink, telemetry } = await makeProcessor(factory, { secret: SECRET });
    await proc.consume(samples.map((s) => rec(structuredClone(s))), {});
    expect(sink.records).toHaveLength(samples.length);
    // look everywhere: the JSON text, and every base64 value decoded
    const texts: string[] = [];
    const visit = (v: unknown): void => {
      if (typeof v === 'string') {
        texts.push(v);
        if (v.length >= 4 && /^[A-Za-z0-9+/]*={0,2}$/.test(v)) texts.push(Buffer.from(v, 'base64').toString('latin1'));
      } else if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (texts.push(k), visit(x));
    };
    for (const r of sink.records) visit(r.rrpair);
    const all = texts.join('\n');
    for (const s of secrets) expect(all.includes(s), `secret ${s.slice(0, 12)}… survived`).toBe(false);
    const first = sink.records[0]!.rrpair;
    expect(first.http!.req!.headers!.Authorization).toEqual([`Bearer REDACTED-AUTHORIZATION-${mac('empty-api-key')}`]);
    expect(first.http!.res!.headers!['Set-Cookie']![0]).toMatch(/^__cf_bm=REDACTED-COOKIE-[0-9a-f]{20}; path=\/; expires=Tue, 18-Mar-25 01:11:46 GMT; domain=\.api\.openai\.com; HttpOnly; Secure; SameSite=None$/);
    expect(first.session).toBe(`REDACTED-AUTHORIZATION-${mac('empty-api-key')}`);
    expect(first.dlpModified).toBe(true);
    expect(first.dlpRule).toBe('rrpipe-default');
    // no false positives on the samples' bodies: only headers and cookies were redacted
    const { proc: p2, sink: s2 } = await makeProcessor(factory, { secret: SECRET, summary_attribute: 's' });
    await p2.consume(samples.map((s) => rec(structuredClone(s))), {});
    const paths = new Set(s2.records.flatMap((r) => (JSON.parse(String(r.attributes.s)) as { path: string }[]).map((f) => f.path.replace(/\.\d+(\.|$)/g, '.N$1'))));
    expect([...paths].sort()).toEqual(['http.req.headers.Authorization.N', 'http.res.headers.Set-Cookie.N.__cf_bm', 'http.res.headers.Set-Cookie.N._cfuvid', 'tokenList.N.tokens.N.token.replacementValue']);
    // unrelated data is left alone: the request body had nothing sensitive
    expect(first.http!.req!.bodyBase64).toBe(samples[0]!.http!.req!.bodyBase64);
    expect(first.http!.res!.headers!['X-Ratelimit-Remaining-Tokens']).toEqual(['799972']);
    expect(await telemetry.total('dropped')).toBe(0);
  });

  it('the same value gives the same mask (correlatable), a different secret a different one; hash has no prefix; drop removes', async () => {
    const rr = () => jsonReq({ password: 'hunter22', again: { password: 'hunter22' } }, { 'X-Api-Key': ['k-123456'] });
    const a = JSON.parse(bodyOf((await redactOne(rr())).rr));
    expect(a.password).toBe(`REDACTED-PASSWORD-${mac('hunter22')}`);
    expect(a.again.password).toBe(a.password);
    const b = JSON.parse(bodyOf((await redactOne(rr(), { secret: 'other' })).rr));
    expect(b.password).not.toBe(a.password);
    const h = await redactOne(rr(), { action: 'hash' });
    expect(JSON.parse(bodyOf(h.rr)).password).toBe(mac('hunter22'));
    const d = await redactOne(rr(), { action: 'drop' });
    expect(JSON.parse(bodyOf(d.rr))).toEqual({ again: {} });
    expect(d.rr.http!.req!.headers!['X-Api-Key']).toBeUndefined();
  });

  it('a gzip-encoded JSON body stays a valid gzip JSON body', async () => {
    const body = { user: { email: 'jane@example.com', card: '4111 1111 1111 1111', name: 'Jane' }, items: [1, 2] };
    const rr: RRPair = { http: { res: { statusCode: 200, headers: { 'Content-Type': ['application/json; charset=utf-8'], 'Content-Encoding': ['gzip'], 'Content-Length': ['1'] }, bodyBase64: gzipSync(JSON.stringify(body)).toString('base64') } } };
    const out = (await redactOne(rr)).rr;
    const bytes = Buffer.from(out.http!.res!.bodyBase64!, 'base64');
    expect(bytes[0]).toBe(0x1f);
    const parsed = JSON.parse(gunzipSync(bytes).toString('utf8'));
    expect(parsed).toEqual({ user: { email: `REDACTED-EMAIL-${mac('jane@example.com')}`, card: `REDACTED-CREDIT_CARD-${mac('4111 1111 1111 1111')}`, name: 'Jane' }, items: [1, 2] });
    expect(out.http!.res!.headers!['Content-Length']).toEqual([String(bytes.length)]);
  });

  it('deflate and br bodies are decoded and re-encoded', async () => {
    const { deflateSync, inflateSync, brotliCompressSync, brotliDecompressSync } = await import('node:zlib');
    for (const [enc, comp, decomp] of [['deflate', deflateSync, inflateSync], ['br', brotliCompressSync, brotliDecompressSync]] as const) {
      const rr: RRPair = { http: { req: { headers: { 'Content-Type': ['text/plain'], 'Content-Encoding': [enc] }, bodyBase64: comp(Buffer.from('mail me: a@b.io')).toString('base64') } } };
      const out = (await redactOne(rr)).rr;
      expect(decomp(Buffer.from(out.http!.req!.bodyBase64!, 'base64')).toString()).toBe(`mail me: REDACTED-EMAIL-${mac('a@b.io')}`);
    }
  });

  it('form, multipart, XML, text and NDJSON bodies', async () => {
    const form = (await redactOne({ http: { req: { headers: { 'Content-Type': ['application/x-www-form-urlencoded'] }, bodyBase64: b64('user=jane&password=s3cr3t%21&note=call+%2B14155552671') } } })).rr;
    expect(bodyOf(form)).toBe(`user=jane&password=REDACTED-PASSWORD-${mac('s3cr3t!')}&note=${encodeURIComponent(`call REDACTED-PHONE-${mac('+14155552671')}`)}`);

    const mp = '--XyZ\r\nContent-Disposition: form-data; name="token"\r\n\r\ntok-abcdef\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n{"email":"x@y.com"}\n{"n":1}\n\r\n--XyZ--\r\n';
    const multi = (await redactOne({ http: { req: { headers: { 'Content-Type': ['multipart/form-data; boundary=XyZ'] }, bodyBase64: b64(mp) } } })).rr;
    const mOut = bodyOf(multi);
    expect(mOut).toContain(`name="token"\r\n\r\nREDACTED-TOKEN-${mac('tok-abcdef')}\r\n--XyZ`);
    expect(mOut).toContain(`{"email":"REDACTED-EMAIL-${mac('x@y.com')}"}\n{"n":1}\n\r\n--XyZ--`);

    const xml = (await redactOne({ http: { req: { headers: { 'Content-Type': ['application/xml'] }, bodyBase64: b64('<a><Password>pw-123456</Password><b apiKey="k-999999">ip 10.1.2.3</b></a>') } } })).rr;
    expect(bodyOf(xml)).toBe(`<a><Password>REDACTED-PASSWORD-${mac('pw-123456')}</Password><b apiKey="REDACTED-API_KEY-${mac('k-999999')}">ip REDACTED-IP-${mac('10.1.2.3')}</b></a>`);

    const text = (await redactOne({ http: { req: { headers: { 'Content-Type': ['text/plain'] }, bodyBase64: b64(`key AKIAIOSFODNN7EXAMPLE, secret=abc123xyz and ${PEM}`) } } })).rr;
    expect(bodyOf(text)).toBe(`key REDACTED-AWS_KEY-${mac('AKIAIOSFODNN7EXAMPLE')}, secret=REDACTED-SECRET-${mac('abc123xyz')} and REDACTED-PRIVATE_KEY-${mac(PEM)}`);
  });

  it('an unparseable JSON body is redacted as text; an invalid base64 body is replaced whole and counted', async () => {
    const bad = (await redactOne({ http: { req: { headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64('{"email": "a@b.io", oops') } } })).rr;
    expect(bodyOf(bad)).toBe(`{"email": "REDACTED-EMAIL-${mac('a@b.io')}", oops`);
    const r = await redactOne({ http: { req: { bodyBase64: 'not base64 at all! a@b.io' } } });
    expect(unb64(r.rr.http!.req!.bodyBase64!)).toMatch(/^REDACTED-BODY-[0-9a-f]{20}$/);
    expect(r.rr.dlpModified).toBe(true);
    expect((await r.telemetry.text())).toMatch(/rrpipe_redaction_bodies_replaced_total\{[^}]*reason="invalid_base64"[^}]*\} 1/);
  });

  it('query parameters, path segments, cookies, and the location field', async () => {
    const rr: RRPair = {
      location: '/users/jane@example.com/orders',
      http: { req: { method: 'GET', uri: '/users/jane@example.com/orders?api_key=abcdef123&page=2', url: '/users/jane@example.com/orders', headers: { Cookie: ['sid=abc123456; theme=dark'] }, queryParams: { api_key: ['abcdef123'], page: ['2'] } } },
    };
    const out = (await redactOne(rr, { allow: { keys: ['^theme$'] } })).rr;
    const email = `REDACTED-EMAIL-${mac('jane@example.com')}`;
    expect(out.http!.req!.uri).toBe(`/users/${email}/orders?api_key=REDACTED-API_KEY-${mac('abcdef123')}&page=2`);
    expect(out.location).toBe(`/users/${email}/orders`);
    expect(out.http!.req!.queryParams).toEqual({ api_key: [`REDACTED-API_KEY-${mac('abcdef123')}`], page: ['2'] });
    expect(out.http!.req!.headers!.Cookie).toEqual([`sid=REDACTED-COOKIE-${mac('abc123456')}; theme=dark`]);
  });

  it('custom rules by key, header path, JSON path and value regex; allow-lists win', async () => {
    const rr = jsonReq({ user: { ssn_number: 'X-1', id: 'u-1' }, note: 'order ORD-12345 for ops@corp.com', keep: 'ops@corp.com', tenant: 't1' }, { 'X-Tenant': ['acme'], Authorization: ['Bearer abcdefgh'] });
    const out = (await redactOne(rr, {
      rules: [
        { name: 'tenant', key: '^tenant$' },
        { path: 'http.req.headers.X-Tenant' },
        { path: '$.user.ssn_number', category: 'ssn' },
        { value: 'ORD-\\d+', category: 'order', action: 'hash' },
      ],
      allow: { keys: ['^authorization$'], values: ['ops@corp\\.com'] },
    })).rr;
    const body = JSON.parse(bodyOf(out));
    expect(body).toEqual({ user: { ssn_number: `REDACTED-SSN-${mac('X-1')}`, id: 'u-1' }, note: `order ${mac('ORD-12345')} for ops@corp.com`, keep: 'ops@corp.com', tenant: `REDACTED-TENANT-${mac('t1')}` });
    expect(out.http!.req!.headers!['X-Tenant']).toEqual([`REDACTED-CUSTOM-${mac('acme')}`]);
    expect(out.http!.req!.headers!.Authorization).toEqual(['Bearer abcdefgh']);
  });

  it('user patterns are RE2, linear in the input: a backtracking value rule cannot stall on crafted traffic; lookaround and backreferences are config errors', async () => {
    expect(() => configOf(factory, { secret: 's', rules: [{ value: '(?<=id=)\\d+' }] })).toThrow(/invalid redaction regex "\(\?<=id=\)\\d\+".*linear time/);
    expect(() => configOf(factory, { secret: 's', keys: ['(a)\\1'] })).toThrow(/invalid redaction regex "\(a\)\\1".*linear time/);
    expect(() => configOf(factory, { secret: 's', allow: { values: ['x(?!y)'] } })).toThrow(/invalid redaction regex "x\(\?!y\)"/);
    // 2^41 steps for JavaScript's backtracking RegExp on this value; RE2 reads it once.
    const crafted = `${'a'.repeat(41)}!`;
    const out = (await redactOne(jsonReq({ note: crafted, code: 'aaaa' }), { rules: [{ value: '^(a|a)*$', category: 'as' }], keys: ['^(x+x+)+y$'] })).rr;
    expect(JSON.parse(bodyOf(out))).toEqual({ note: crafted, code: `REDACTED-AS-${mac('aaaa')}` });
    // key rules and allow-lists stay case-insensitive
    const keyed = (await redactOne(jsonReq({ TENANT: 't1', theme: 'x' }), { keys: ['^tenant$'], allow: { keys: ['^THEME$'] }, rules: [{ value: 'x' }] })).rr;
    expect(JSON.parse(bodyOf(keyed))).toEqual({ TENANT: `REDACTED-CUSTOM-${mac('t1')}`, theme: 'x' });
  });

  it('detectors can be switched off', async () => {
    const out = (await redactOne(jsonReq({ a: 'mail a@b.io from 10.0.0.1' }), { detectors: { email: false } })).rr;
    expect(JSON.parse(bodyOf(out)).a).toBe(`mail a@b.io from REDACTED-IP-${mac('10.0.0.1')}`);
  });

  it('Postgres query text and bind values', async () => {
    const rr: RRPair = { l7protocol: 'postgres', postgres: { req: { query: "UPDATE users SET password = 'pw-secret1' WHERE email = 'jane@example.com'", params: ['4111111111111111', 42] }, res: { rows: [['jane@example.com']] } } };
    const out = (await redactOne(rr)).rr;
    const pg = out.postgres as { req: { query: string; params: unknown[] }; res: { rows: string[][] } };
    expect(pg.req.query).toBe(`UPDATE users SET password = 'REDACTED-PASSWORD-${mac('pw-secret1')}' WHERE email = 'REDACTED-EMAIL-${mac('jane@example.com')}'`);
    expect(pg.req.params).toEqual([`REDACTED-CREDIT_CARD-${mac('4111111111111111')}`, 42]);
    expect(pg.res.rows[0]![0]).toBe(`REDACTED-EMAIL-${mac('jane@example.com')}`);
  });

  it('adds a summary of paths and categories, never values; untouched RRPairs get no dlp fields', async () => {
    const { rr, record } = await redactOne(jsonReq({ user: { email: 'jane@example.com' } }, { Authorization: ['Bearer zzzzzzzz'] }));
    const summary = JSON.parse(String(record!.attributes.redaction));
    expect(summary).toEqual(expect.arrayContaining([{ path: 'http.req.headers.Authorization.0', category: 'AUTHORIZATION' }, { path: 'http.req.body.json.$.user.email', category: 'EMAIL' }]));
    expect(String(record!.attributes.redaction)).not.toContain('jane');
    expect(rr.dlpModified).toBe(true);
    const clean = await redactOne(jsonReq({ a: 1 }));
    expect(clean.rr.dlpModified).toBeUndefined();
    expect(clean.record!.attributes.redaction).toBeUndefined();
  });

  it('bad input: missing http, wrong types, a 50 MB body over the limit is replaced and counted, never crashing', async () => {
    const big = Buffer.alloc(50 * 1024 * 1024, 'a').toString('base64');
    const inputs = [
      {},
      { http: null },
      { http: { req: 'x', res: [1] } },
      { http: { req: { headers: 'h', uri: 5, bodyBase64: 12, queryParams: [] }, res: { headers: { A: [1, null, 'a@b.io'] }, bodyBase64: { x: 1 } } } },
      { signature: 7, tokenList: [null, 'Bearer abcdefgh'], tags: { t: 'jane@example.com' } },
      { http: { req: { headers: { 'Content-Type': ['text/plain'] }, bodyBase64: big } } },
    ] as unknown as RRPair[];
    const { proc, sink, telemetry } = await makeProcessor(factory, { secret: SECRET, max_body_size: '16MiB' });
    await proc.consume([...inputs.map((i) => rec(i)), { rrpair: null } as never], {});
    expect(sink.records).toHaveLength(inputs.length);
    expect(await telemetry.total('dropped', { reason: 'redaction_failed' })).toBe(1);
    const out = sink.records.map((r) => r.rrpair);
    expect((out[3]!.http!.res!.headers as Record<string, unknown[]>).A).toEqual([1, null, `REDACTED-EMAIL-${mac('a@b.io')}`]);
    expect(unb64(out[3]!.http!.req!.bodyBase64 as unknown as string)).toMatch(/^REDACTED-BODY-/);
    expect(out[4]!.tags).toEqual({ t: `REDACTED-EMAIL-${mac('jane@example.com')}` });
    expect(unb64(out[5]!.http!.req!.bodyBase64!)).toMatch(/^REDACTED-BODY-[0-9a-f]{20}$/);
    expect(await telemetry.text()).toMatch(/rrpipe_redaction_bodies_replaced_total\{[^}]*reason="too_large"[^}]*\} 1/);
  });
});
