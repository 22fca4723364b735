import { describe, expect, it } from 'vitest';
import { base64MayBeText, looksLikeText } from '../../src/rrpair/body.js';
import { DETECTORS, DETECTOR_NAMES, sensitiveKeyCategory } from '../../src/processors/redaction/detectors.js';
import { factory } from '../../src/processors/redaction/index.js';
import { DETECTOR_BIT, detectorCandidates, mayHoldCredentialKey } from '../../src/processors/redaction/prefilter.js';
import { Redactor } from '../../src/processors/redaction/redactor.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { b64, configOf, unb64 } from './helpers.js';

// The pre-checks skip a regex only when it cannot match: checked here on strings built from the
// pieces the detectors and the key=value regex look for, mixed with what breaks them up.
const PIECES = ['4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005', '123-45-6789', '078-05-1120', '+14155552671', '+0123456789', '10.0.0.1',
  '2001:db8::1', 'fe80::1', '12:30:45', 'a@b.io', 'jane.doe+tag@example.co.uk', 'Bearer abcdefgh12', 'basic dXNlcjpwYXNz', 'TOKEN\u00a0zzzzzzzz', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc',
  'AKIAIOSFODNN7EXAMPLE', '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----', 'password=hunter22', 'api_key: "xyz123"', "'secret' = 'abc'", 'pass_word=zz', 'p-wd=1',
  'apI-Key = v', 'x_access-key:val', 'SessionId=77', '9Token: t', 'foo=bar', '"', "'", ' ', '  ', '-', '.', '+', '@', ':', '=', '1', '12', 'Z', 'abc', 'é', '\u2028', '\t', '\n'];

function strings(n: number, seed: number): string[] {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) s += PIECES[Math.floor(rnd() * PIECES.length)];
    out.push(s);
  }
  return out;
}

const KV = /(["']?)([A-Za-z][\w.-]{1,63})\1(\s*[:=]\s*)(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s&,;"'<>)[{][^\s&,;"'<>)]*))/g;

describe('redaction pre-checks never skip a match', () => {
  const samples = strings(5000, 7);

  it('detectorCandidates has the bit of every detector that finds something', () => {
    let found = 0;
    for (const s of samples) {
      const bits = detectorCandidates(s);
      for (const name of DETECTOR_NAMES) {
        const d = DETECTORS[name];
        d.regex.lastIndex = 0;
        const hits = [...s.matchAll(d.regex)].map((m) => (d.group ? m[d.group] : m[0])).filter((c) => c && (!d.valid || d.valid(c)));
        if (hits.length) {
          found++;
          expect(bits & DETECTOR_BIT[name], `${name} in ${JSON.stringify(s)}`).not.toBe(0);
        }
      }
    }
    expect(found).toBeGreaterThan(1000);
  });

  it('detectorCandidates is 0 for text with nothing to find', () => {
    for (const s of ['fine_tuning.job.event', 'application/json', 'Tue, 18 Mar 2025', 'chatcmpl-BCFJZEEejf6SOD5uXeW56J8UBnKNT', '1742258506', 'v0.1.0-alpha.65']) expect(detectorCandidates(s), s).toBe(0);
  });

  it('mayHoldCredentialKey is true wherever the key=value regex meets a credential-like key', () => {
    const hasRule = (k: string) => sensitiveKeyCategory(k) !== undefined;
    let found = 0;
    for (const s of samples) {
      const keys = [...s.matchAll(KV)].map((m) => m[2]!).filter(hasRule);
      if (keys.length) {
        found++;
        expect(mayHoldCredentialKey(s, hasRule), JSON.stringify(s)).toBe(true);
      }
    }
    expect(found).toBeGreaterThan(500);
    expect(mayHoldCredentialKey('"prompt_tokens": 12, "token_type": "x", a=b', hasRule)).toBe(false);
  });

  it('base64MayBeText is true whenever the decoded bytes look like text', () => {
    let x = 3;
    for (let i = 0; i < 20000; i++) {
      const bytes = Buffer.alloc(1 + (i % 20));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (x = (x * 1103515245 + 12345) & 0x7fffffff) % (i % 2 ? 128 : 256);
      for (const enc of ['base64', 'base64url'] as const) {
        const s = bytes.toString(enc);
        if (looksLikeText(Buffer.from(s, enc))) expect(base64MayBeText(s), s).toBe(true);
      }
    }
    expect(base64MayBeText('chatcmpl-BCFJZEEejf6SOD5uXeW56J8UBnKNT')).toBe(false);
  });
});

describe('strings remembered as clean', () => {
  const body = (v: unknown): RRPair => ({ http: { req: { headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64(JSON.stringify(v)) } } });

  it('a value clean under one key is still redacted under a credential key, and inside a key=value text', () => {
    const r = new Redactor(configOf(factory, { secret: 's' }));
    const a = body({ note: 'hunter2-secret-value' });
    r.redact(a);
    expect(unb64(a.http!.req!.bodyBase64!)).toContain('hunter2-secret-value');
    const b = body({ password: 'hunter2-secret-value', note: 'password=hunter2-secret-value' });
    const res = r.redact(b);
    expect(unb64(b.http!.req!.bodyBase64!)).not.toContain('hunter2');
    expect(res.findings.map((f) => f.category)).toEqual(['PASSWORD', 'PASSWORD']);
  });

  it('with path rules nothing is remembered: the same text is redacted where a rule points into it', () => {
    const r = new Redactor(configOf(factory, { secret: 's', rules: [{ path: 'http.req.body.json.$.note.user', category: 'USER' }] }));
    const a = body({ other: 'a=1&user=u-12345678' });
    expect(r.redact(a).findings).toEqual([]);
    const b = body({ note: 'a=1&user=u-12345678' });
    expect(r.redact(b).findings).toEqual([{ path: 'http.req.body.json.$.note.user', category: 'USER' }]);
    expect(unb64(b.http!.req!.bodyBase64!)).not.toContain('u-12345678');
  });
});
