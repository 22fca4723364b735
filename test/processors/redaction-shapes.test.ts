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
