import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/redaction/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, b64, makeProcessor, rec, unb64 } from './helpers.js';

const SECRET = 'test-secret';
const mac = (v: string) => createHmac('sha256', SECRET).update(v).digest('hex').slice(0, 20);
const KEY = 'sk-proj-Zx81_qLm0PvC4rT9wYb2-Hn7uJk3Ds6Fg5Ae1Qo0Ir8Ty4Wz';

async function redact(rrs: RRPair[], cfg: Record<string, unknown> = {}) {
  const { proc, sink } = await makeProcessor(factory, { secret: SECRET, summary_attribute: 'redaction', ...cfg });
  await proc.consume(rrs.map((r) => rec(r)), {});
  return sink.records;
}

/** Every string in v and every key, with base64, URL-encoded and JSON strings also decoded (a few levels deep). */
function everything(v: unknown): string {
  const out: string[] = [];
  const visit = (x: unknown, depth: number): void => {
    if (typeof x === 'string') {
      out.push(x);
      if (depth >= 4) return;
      if (x.length >= 4 && /^[A-Za-z0-9+/_-]*={0,2}$/.test(x)) visit(Buffer.from(x, 'base64').toString('latin1'), depth + 1);
      try {
        const d = decodeURIComponent(x);
        if (d !== x) visit(d, depth + 1);
      } catch {
        /* not URL-encoded */
      }
      try {
        if (/^\s*[{[]/.test(x)) visit(JSON.parse(x), depth + 1);
      } catch {
        /* not JSON */
      }
    } else if (Array.isArray(x)) x.forEach((y) => visit(y, depth));
    else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) (out.push(k), visit(y, depth));
  };
  visit(v, 0);
  return out.join('\n');
}

function tokenList(location: string, original: string, id = `UNRECOGNIZED:${original}`): Record<string, unknown> {
  return { [id]: { id, tokens: [{ uuid: 'u1', token: { location, regex: '^Bearer\\s(.+)', replacementValue: b64(original) } }] } };
}

function request(extra: Partial<RRPair> = {}, headers: Record<string, string[]> = {}): RRPair {
  return { msgType: 'rrpair', l7protocol: 'http', http: { req: { method: 'GET', uri: '/v1/models', headers: { Host: ['api.example.com'], ...headers } }, res: { statusCode: 200 } }, ...extra };
}

describe('redaction by meaning: token lists', () => {
  it('the real samples: the sk-proj key kept base64-encoded in tokenList (header holds a placeholder) is redacted', async () => {
    const samples = allSamples();
    const keys = new Set<string>();
    for (const s of samples) {
      for (const entry of Object.values((s.tokenList ?? {}) as Record<string, { tokens: { token: { location: string; replacementValue: string } }[] }>)) {
        for (const t of entry.tokens) if (/Authorization/.test(t.token.location)) keys.add(Buffer.from(t.token.replacementValue, 'base64').toString('utf8'));
      }
    }
    const real = [...keys].filter((k) => k.startsWith('sk-'));
    expect(real.length).toBeGreaterThan(0);
    const out = await redact(samples.map((s) => structuredClone(s)));
    const all = out.map((r) => everything(r.rrpair)).join('\n');
    for (const k of real) expect(all.includes(k), `key ${k.slice(0, 12)}… survived`).toBe(false);
    // in its place, the same mask the header would get, still base64 as Speedscale stores it
    const withKey = out.find((r) => everything(r.rrpair).includes(`REDACTED-AUTHORIZATION-${mac(real[0]!)}`));
    expect(withKey).toBeDefined();
    // a token list value from a non-credential location (Host) is left as it was
    const hosts = out.flatMap((r) => Object.values((r.rrpair.tokenList ?? {}) as Record<string, { tokens: { token: { location: string; replacementValue: string } }[] }>))
      .flatMap((e) => e.tokens).filter((t) => t.token.location.startsWith('http.req.headers.Host'));
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((t) => unb64(t.token.replacementValue) === 'api.openai.com')).toBe(true);
  });

  it('a credential location is redacted whatever its value looks like, in either location syntax, and the id that embeds it is scrubbed', async () => {
    const cases: [string, string][] = [
      ['http.req.headers.Authorization.0', 'AUTHORIZATION'],
      ['http.req.headers.Authorization[0]', 'AUTHORIZATION'],
      ['http.req.headers.X-Api-Key[0]', 'API_KEY'],
      ['http.req.queryParams.access_token[0]', 'TOKEN'],
      ['http.req.headers.Cookie[0]', 'COOKIE'],
    ];
    for (const [location, category] of cases) {
      const [out] = await redact([request({ tokenList: tokenList(location, KEY) }, { Authorization: ['Bearer empty-api-key'] })]);
      const rr = out!.rrpair;
      const all = everything(rr);
      expect(all.includes(KEY), `${location}: key survived`).toBe(false);
      const list = rr.tokenList as Record<string, { id: string; tokens: { token: { replacementValue: string } }[] }>;
      const [id, entry] = Object.entries(list)[0]!;
      expect(unb64(entry.tokens[0]!.token.replacementValue), location).toBe(`REDACTED-${category}-${mac(KEY)}`);
      expect(id).toBe(`UNRECOGNIZED:REDACTED-${category}-${mac(KEY)}`);
      expect(entry.id).toBe(id);
      const summary = JSON.parse(String(out!.attributes.redaction)) as { path: string }[];
      expect(summary.map((f) => f.path)).toContain('tokenList.0.tokens.0.token.replacementValue');
      expect(String(out!.attributes.redaction).includes(KEY)).toBe(false);
    }
  });

  it('a value from an ordinary location stays; a configured path rule makes any location a credential', async () => {
    const [plain] = await redact([request({ tokenList: tokenList('http.req.headers.X-Request-Id[0]', 'req-12345678', 'ID:req') })]);
    expect(unb64((plain!.rrpair.tokenList as Record<string, { tokens: { token: { replacementValue: string } }[] }>)['ID:req']!.tokens[0]!.token.replacementValue)).toBe('req-12345678');
    const [ruled] = await redact([request({ tokenList: tokenList('http.req.headers.X-Request-Id[0]', 'req-12345678', 'ID:req') })], { rules: [{ name: 'request_id', path: 'http.req.headers.X-Request-Id' }] });
    expect(unb64((ruled!.rrpair.tokenList as Record<string, { tokens: { token: { replacementValue: string } }[] }>)['ID:req']!.tokens[0]!.token.replacementValue)).toBe(`REDACTED-REQUEST_ID-${mac('req-12345678')}`);
  });
});

describe('redaction by meaning: detectors run over decoded forms', () => {
  const EMAIL = 'jane.doe@example.com';
  const PASSWORD = 'hunter2-correct-horse';
  const jsonBody = (body: unknown, headers: Record<string, string[]> = {}): RRPair => ({
    l7protocol: 'http',
    http: { req: { method: 'POST', uri: '/x', headers: { 'Content-Type': ['application/json'], ...headers }, bodyBase64: b64(JSON.stringify(body)) } },
  });

  const cases: [string, () => RRPair, string][] = [
    ['base64 of JSON in a header', () => request({}, { 'X-User-Context': [b64(JSON.stringify({ user: EMAIL }))] }), EMAIL],
    ['base64url of JSON in a header', () => request({}, { 'X-User-Context': [Buffer.from(JSON.stringify({ user: EMAIL, n: '>>>??' })).toString('base64url')] }), EMAIL],
    ['URL-encoded JSON in a query parameter', () => request({ http: { req: { method: 'GET', uri: `/search?filter=${encodeURIComponent(JSON.stringify({ password: PASSWORD }))}`, headers: {} } } }), PASSWORD],
    ['URL-encoded e-mail in a JSON string', () => jsonBody({ next: `https://app.example.com/login?u=${encodeURIComponent(EMAIL)}` }), EMAIL],
    ['JSON inside a JSON string', () => jsonBody({ payload: JSON.stringify({ password: PASSWORD }) }), PASSWORD],
    ['a form inside a JSON string', () => jsonBody({ raw: `user=jane&password=${encodeURIComponent(PASSWORD)}&remember=1` }), PASSWORD],
    ['base64 of a form in a JSON string', () => jsonBody({ blob: b64(`user=jane&password=${PASSWORD}`) }), PASSWORD],
    ['a form body', () => ({ l7protocol: 'http', http: { req: { method: 'POST', uri: '/login', headers: { 'Content-Type': ['application/x-www-form-urlencoded'] }, bodyBase64: b64(`user=jane&password=${encodeURIComponent(PASSWORD)}`) } } }), PASSWORD],
    ['a cookie', () => request({}, { Cookie: [`theme=dark; sid=${PASSWORD}`] }), PASSWORD],
    ['base64 of URL-encoded JSON in a tag', () => request({ tags: { ctx: b64(encodeURIComponent(JSON.stringify({ password: PASSWORD }))) } }), PASSWORD],
  ];
  for (const [name, make, secret] of cases) {
    it(name, async () => {
      const before = make();
      expect(everything(before).includes(secret) || everything(before).includes(encodeURIComponent(secret))).toBe(true);
      const [out] = await redact([before]);
      const all = everything(out!.rrpair);
      expect(all.includes(secret), `${name}: ${secret} survived`).toBe(false);
      expect(all).toMatch(/REDACTED-[A-Z_]+-[0-9a-f]{20}/);
      expect(out!.rrpair.dlpModified).toBe(true);
    });
  }

  it('an encoded value with nothing sensitive in it is left byte for byte', async () => {
    const ctx = b64(JSON.stringify({ theme: 'dark', page: 3 }));
    const q = `/search?filter=${encodeURIComponent(JSON.stringify({ color: 'red' }))}`;
    const [out] = await redact([request({ http: { req: { method: 'GET', uri: q, headers: { 'X-Context': [ctx] } }, res: { statusCode: 200 } } })]);
    expect(out!.rrpair.http!.req!.headers!['X-Context']).toEqual([ctx]);
    expect(out!.rrpair.http!.req!.uri).toBe(q);
    expect(out!.rrpair.dlpModified).toBeUndefined();
  });
});
