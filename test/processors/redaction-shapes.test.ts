import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/redaction/index.js';
import { Redactor } from '../../src/processors/redaction/redactor.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { b64, configOf } from './helpers.js';

// Redaction fails closed: a value of a shape the structured walk does not expect is still read.

const SECRET = 'shape-secret';
const mac = (v: string) => createHmac('sha256', SECRET).update(v).digest('hex').slice(0, 20);
const redactor = (cfg: Record<string, unknown> = {}) => new Redactor(configOf(factory, { secret: SECRET, ...cfg }) as never);
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

function redacted(rr: RRPair, cfg: Record<string, unknown> = {}) {
  const res = redactor(cfg).redact(rr);
  return { rr, json: JSON.stringify(rr), res };
}

describe('redactText: an auth scheme word is followed by its credential', () => {
  it('a bare "Bearer X" after a credential key is redacted as the header path redacts it', () => {
    const r = redactor();
    const { text, findings } = r.redactText('{"Authorization": Bearer LOGLEAKTOKEN123}');
    expect(text).not.toContain('LOGLEAKTOKEN123');
    // the same value as a header: scheme kept, the credential's HMAC
    const rr: RRPair = { http: { req: { headers: { Authorization: ['Bearer LOGLEAKTOKEN123'] } } } };
    r.redact(rr);
    const header = rr.http!.req!.headers!.Authorization![0]!;
    expect(header).toBe(`Bearer REDACTED-AUTHORIZATION-${mac('LOGLEAKTOKEN123')}`);
    expect(text).toBe(`{"Authorization": ${header}}`);
    expect(findings).toEqual([{ path: 'raw.Authorization', category: 'AUTHORIZATION' }]);
  });

  it('keep_auth_scheme: false masks scheme and credential together, as for a header', () => {
    const { text } = redactor({ keep_auth_scheme: false }).redactText('Authorization: Basic dXNlcjpwYXNzd29yZA== next');
    expect(text).toBe(`Authorization: REDACTED-AUTHORIZATION-${mac('Basic dXNlcjpwYXNzd29yZA==')} next`);
  });

  it('schemes with parameters, any case, and a text body', () => {
    const r = redactor();
    const digest = r.redactText('authorization: digest username="bob", response="6629fae49393a05397450978507c4ef1", nc=00000001').text;
    expect(digest).not.toContain('6629fae4');
    expect(digest).not.toContain('bob');
    expect(digest).toMatch(/^authorization: digest REDACTED-AUTHORIZATION-[0-9a-f]{20}$/);
    const rr: RRPair = { http: { req: { headers: { 'Content-Type': ['text/plain'] }, bodyBase64: b64('GET /\nX-Auth: Token tok_LEAK123456\n') } } };
    r.redact(rr);
    const body = Buffer.from(rr.http!.req!.bodyBase64!, 'base64').toString();
    expect(body).toBe(`GET /\nX-Auth: Token REDACTED-AUTHORIZATION-${mac('tok_LEAK123456')}\n`);
  });

  it('a scheme word under a key that is no credential is left to the detectors, as before', () => {
    const { text } = redactor().redactText('note: Bearer abcdefgh123 password=hunter22');
    expect(text).toBe(`note: Bearer REDACTED-BEARER-${mac('abcdefgh123')} password=REDACTED-PASSWORD-${mac('hunter22')}`);
  });
});

describe('http parts of unexpected shapes are read, not skipped', () => {
  const KEY = 'SHAPEKEYxyz123456';
  const noLeak = (json: string, ...secrets: string[]) => {
    for (const s of [JWT.slice(0, 30), JWT.slice(-20), KEY, ...secrets]) expect(json, s).not.toContain(s);
  };

  it('headers as text: "Name: value" lines are headers, so the key rules apply', () => {
    const { rr, res } = redacted({ http: { req: { url: '/s1', headers: `Authorization: Bearer ${JWT}\r\nX-Api-Key: ${KEY}\r\nAccept: */*` as never } } });
    expect(rr.http!.req!.headers).toBe(`Authorization: Bearer REDACTED-AUTHORIZATION-${mac(JWT)}\r\nX-Api-Key: REDACTED-API_KEY-${mac(KEY)}\r\nAccept: */*`);
    expect(res.findings.map((f) => f.path)).toEqual(['http.req.headers.Authorization', 'http.req.headers.X-Api-Key']);
  });

  it('headers as [name, value] pairs, a flat name/value list, and {name, value} objects', () => {
    const { rr, json } = redacted({
      http: {
        req: { url: '/s3', headers: [['Authorization', `Bearer ${JWT}`], ['X-Api-Key', KEY]] as never, rawHeaders: ['Host', 'a.example', 'X-Api-Key', `${KEY}2`] },
        res: { headers: [{ name: 'Set-Cookie', value: 'session=SESSIONxyz123; Path=/' }, { name: 'Cookie', value: 'a=1; sid=SIDxyz123' }] as never },
      },
    });
    noLeak(json, 'SESSIONxyz123', 'SIDxyz123');
    expect((rr.http!.req!.headers as unknown as string[][])[0]).toEqual(['Authorization', `Bearer REDACTED-AUTHORIZATION-${mac(JWT)}`]);
    expect(rr.http!.req!.rawHeaders).toEqual(['Host', 'a.example', 'X-Api-Key', `REDACTED-API_KEY-${mac(`${KEY}2`)}`]);
    // cookies as the structured path redacts them: every Cookie value, Set-Cookie's first
    expect((rr.http!.res!.headers as unknown as { value: string }[])[0]!.value).toBe(`session=REDACTED-COOKIE-${mac('SESSIONxyz123')}; Path=/`);
    expect((rr.http!.res!.headers as unknown as { value: string }[])[1]!.value).toBe(`a=REDACTED-COOKIE-${mac('1')}; sid=REDACTED-COOKIE-${mac('SIDxyz123')}`);
  });

  it('header values that are nested arrays, objects, numbers', () => {
    const { rr, json } = redacted({
      http: { req: { url: '/s4', headers: { Authorization: [[`Bearer ${JWT}`]], 'X-Api-Key': [{ v: KEY }], authorization: [12345678901234], 'X-Note': [[`mail bob@example.com`]], 'X-Flag': [true], 'x-api-key': 98765432109 } as never } },
    });
    noLeak(json, '12345678901234', 'bob@example.com', '98765432109');
    const h = rr.http!.req!.headers as Record<string, unknown>;
    expect(h.authorization).toEqual([`REDACTED-AUTHORIZATION-${mac('12345678901234')}`]);
    expect(h['X-Flag']).toEqual([true]);
    expect(h['X-Note']).toEqual([[`mail REDACTED-EMAIL-${mac('bob@example.com')}`]]);
  });

  it('a URL that is an object, a body that is not bodyBase64, a part or http itself that is text', () => {
    const a = redacted({ http: { req: { url: { path: '/x', query: `?access_token=${JWT}&api_key=URLKEYxyz` } as never, headers: {} } } });
    noLeak(a.json, 'URLKEYxyz');
    const b = redacted({ http: { req: { url: '/s8', headers: { 'Content-Type': ['application/json'] }, body: `{"password":"BODYPWDxyz","token":"${JWT}"}` } } });
    noLeak(b.json, 'BODYPWDxyz');
    const c = redacted({ http: { req: { url: '/s9', headers: {} }, res: 'HTTP/1.1 200 OK\r\nSet-Cookie: session=RESSESSIONxyz; password=RESPWDxyz\r\n\r\n{"secret":"RESBODYxyz"}' as never } });
    noLeak(c.json, 'RESSESSIONxyz', 'RESPWDxyz', 'RESBODYxyz');
    expect(c.rr.http!.res).toMatch(/^HTTP\/1\.1 200 OK\r\nSet-Cookie: session=REDACTED-COOKIE-[0-9a-f]{20}; password=REDACTED-PASSWORD-[0-9a-f]{20}\r\n\r\n\{"secret":"REDACTED-SECRET-[0-9a-f]{20}"\}$/);
    const d = redacted({ http: `GET /x HTTP/1.1\nAuthorization: Basic dXNlcjpwYXNzd29yZA==` as never });
    expect(d.rr.http).toBe(`GET /x HTTP/1.1\nAuthorization: Basic REDACTED-AUTHORIZATION-${mac('dXNlcjpwYXNzd29yZA==')}`);
    const e = redacted({ http: { req: { url: '/e' }, extra: { apiKey: 'EXTRAKEYxyz' } } as never });
    noLeak(e.json, 'EXTRAKEYxyz');
  });

  it('trailers are headers', () => {
    const { rr } = redacted({ http: { req: { url: '/t' }, res: { statusCode: 200, headers: {}, trailers: { 'X-Auth-Token': ['TRAILERTOKxyz'] } } } });
    expect(rr.http!.res!.trailers).toEqual({ 'X-Auth-Token': [`REDACTED-TOKEN-${mac('TRAILERTOKxyz')}`] });
  });

  it('infrastructure fields that are not what they should be are swept; well-typed ones are left alone', () => {
    const { rr, json } = redacted({
      status: { token: 'STATUSTOKxyz', msg: `Bearer ${JWT}` } as never,
      command: ['Authorization: Bearer CMDTOKENxyz'] as never,
      location: { href: `/x?access_token=LOCTOKENxyz` } as never,
      postgres: "select * from users where password = 'PGPWDxyz'" as never,
      cluster: '10.0.0.1',
      http: { req: { url: '/ok', host: '10.0.0.2', method: 'GET' }, res: { statusCode: 200, statusMessage: '200 OK', contentType: 'text/plain' } },
    });
    noLeak(json, 'STATUSTOKxyz', 'CMDTOKENxyz', 'LOCTOKENxyz', 'PGPWDxyz');
    expect(rr.cluster).toBe('10.0.0.1');
    expect(rr.http).toEqual({ req: { url: '/ok', host: '10.0.0.2', method: 'GET' }, res: { statusCode: 200, statusMessage: '200 OK', contentType: 'text/plain' } });
  });

  it('a well-shaped record comes out as before', () => {
    const rr: RRPair = {
      msgType: 'rrpair', status: '200', command: 'GET', location: '/a?token=abcdefgh',
      http: { req: { url: '/a?token=abcdefgh', uri: '/a?token=abcdefgh', method: 'GET', host: 'api', headers: { Authorization: [`Bearer ${JWT}`], Accept: ['*/*'] } }, res: { statusCode: 200, headers: { 'Set-Cookie': ['sid=abcdef123; Path=/'] } } },
      tags: { user: 'bob' },
    };
    redacted(rr);
    expect(rr).toEqual({
      msgType: 'rrpair', status: '200', command: 'GET', location: `/a?token=REDACTED-TOKEN-${mac('abcdefgh')}`,
      http: {
        req: { url: `/a?token=REDACTED-TOKEN-${mac('abcdefgh')}`, uri: `/a?token=REDACTED-TOKEN-${mac('abcdefgh')}`, method: 'GET', host: 'api', headers: { Authorization: [`Bearer REDACTED-AUTHORIZATION-${mac(JWT)}`], Accept: ['*/*'] } },
        res: { statusCode: 200, headers: { 'Set-Cookie': [`sid=REDACTED-COOKIE-${mac('abcdef123')}; Path=/`] } },
      },
      tags: { user: 'bob' },
    });
  });
});


describe('key rules apply to keys anywhere the sweep goes', () => {
  it('tags, other top-level fields', () => {
    const { rr, res } = redacted({ tags: { password: 'UNK1PWD', user: 'bob', nested: { client_secret: 'NESTEDSECRETxyz' } } as never, api_key: 'TOPKEYxyz', session: 'plain' });
    expect(rr.tags).toEqual({ password: `REDACTED-PASSWORD-${mac('UNK1PWD')}`, user: 'bob', nested: { client_secret: `REDACTED-SECRET-${mac('NESTEDSECRETxyz')}` } });
    expect(rr.api_key).toBe(`REDACTED-API_KEY-${mac('TOPKEYxyz')}`);
    expect(rr.session).toBe('plain');
    expect(res.findings).toEqual([
      { path: 'tags.password', category: 'PASSWORD' },
      { path: 'tags.nested.client_secret', category: 'SECRET' },
      { path: 'api_key', category: 'API_KEY' },
    ]);
  });

  it('configured keys and allow.keys count too; token lists keep being read by meaning', () => {
    const { rr } = redacted({ tags: { tenant: 'acme', password: 'keepme1' } as never }, { keys: ['^tenant$'], allow: { keys: ['^password$'] } });
    expect(rr.tags).toEqual({ tenant: `REDACTED-CUSTOM-${mac('acme')}`, password: 'keepme1' });
    const list = { 'URI:/x': { tokens: [{ token: { location: 'http.req.uri', replacementValue: b64('/x') } }] } };
    const t = redacted({ tokenList: structuredClone(list) });
    expect(t.rr.tokenList).toEqual(list);
  });
});
