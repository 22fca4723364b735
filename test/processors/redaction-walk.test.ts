import { createHmac } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/redaction/index.js';
import { Redactor } from '../../src/processors/redaction/redactor.js';
import { decodeBody } from '../../src/rrpair/body.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { configOf } from './helpers.js';

const SECRET = 'walk-secret';
const mac = (v: string) => createHmac('sha256', SECRET).update(v).digest('hex').slice(0, 20);
const redactor = (cfg: Record<string, unknown> = {}) => new Redactor(configOf(factory, { secret: SECRET, ...cfg }) as never);

/** What decodeBody answered for a gzip body before it sized its output buffer: zlib's defaults. */
function reference(raw: Buffer, maxBytes: number): string {
  try {
    return gunzipSync(raw, maxBytes > 0 ? { maxOutputLength: maxBytes } : {}).toString('hex');
  } catch (err) {
    return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'decompress_failed';
  }
}

function decoded(raw: Buffer, maxBytes: number): string {
  const dec = decodeBody(raw.toString('base64'), undefined, maxBytes);
  if (!dec.ok) return dec.reason;
  expect(dec.encoding).toBe('gzip');
  return dec.bytes.toString('hex');
}

describe('decodeBody gunzips into a buffer sized from the gzip trailer, with the answers of zlib defaults', () => {
  const text = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `{"i":${i},"v":"${'x'.repeat(i % 13)}"}`).join('\n'));
  const small = gzipSync(text(20));
  const big = gzipSync(Buffer.concat([text(40), Buffer.alloc(30_000, ' ')]));
  const lying = (b: Buffer, size: number) => {
    const c = Buffer.from(b);
    c.writeUInt32LE(size, c.length - 4);
    return c;
  };
  const corrupt = Buffer.from(big);
  corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 12) ^ 0x10, corrupt.length - 12);
  const cases: [string, Buffer][] = [
    ['one member', small],
    ['empty', gzipSync(Buffer.alloc(0))],
    ['30 KB of output', big],
    ['over 256 KiB of output', gzipSync(Buffer.concat([text(9000)]))],
    ['two members, the last one small', Buffer.concat([big, small])],
    ['two members, the last one big', Buffer.concat([small, big])],
    ['trailing zero bytes', Buffer.concat([small, Buffer.alloc(5)])],
    ['trailing text', Buffer.concat([small, Buffer.from('a@b.io')])],
    ['a trailer smaller than the output', lying(big, 100)],
    ['a trailer larger than the output', lying(small, 5000)],
    ['a trailer of zero', lying(small, 0)],
    ['truncated', big.subarray(0, big.length - 9)],
    ['a flipped bit', corrupt],
    ['a small member after a lying one', Buffer.concat([lying(big, 50), small])],
  ];
  for (const [name, raw] of cases) {
    it(name, () => {
      for (const max of [0, 300, 2048, 20_000, 1 << 20]) expect(decoded(raw, max), `max_body_size ${max}`).toBe(reference(raw, max));
    });
  }
});

describe('redaction walk details', () => {
  it('a header whose lower case is cookie or set-cookie is read as cookies, whatever its letters (the Kelvin sign is k); others by their name', () => {
    const rr: RRPair = {
      http: {
        req: { headers: { 'COO\u212AIE': ['sid=abc123456; theme=dark'], 'cook\u0130e': ['sid=abc123456; theme=dark'] } },
        res: { headers: { 'Set-Coo\u212Aie': ['sid=abc123456; Path=/'], 'SET-COOKIE': ['tid=zyx987654; Path=/'] } },
      },
    };
    const res = redactor().redact(rr);
    expect(rr.http!.req!.headers).toEqual({ 'COO\u212AIE': [`sid=REDACTED-COOKIE-${mac('abc123456')}; theme=REDACTED-COOKIE-${mac('dark')}`], 'cook\u0130e': [`REDACTED-COOKIE-${mac('sid=abc123456; theme=dark')}`] });
    expect(rr.http!.res!.headers).toEqual({ 'Set-Coo\u212Aie': [`sid=REDACTED-COOKIE-${mac('abc123456')}; Path=/`], 'SET-COOKIE': [`tid=REDACTED-COOKIE-${mac('zyx987654')}; Path=/`] });
    expect(res.findings.map((f) => f.path)).toEqual(['http.req.headers.COO\u212AIE.0.sid', 'http.req.headers.COO\u212AIE.0.theme', 'http.req.headers.cook\u0130e.0', 'http.res.headers.Set-Coo\u212Aie.0.sid', 'http.res.headers.SET-COOKIE.0.tid']);
  });

  it('the sweep names each finding by its place in nested objects and arrays, and scrubs a secret found elsewhere wherever it recurs whole', () => {
    const rr = {
      http: { req: { headers: { Cookie: ['sid=s3cr3tvalue'] } } },
      signature: { a: [{ b: 'mail jane@example.com' }, 'x', ['call +14155552671']], c: 's3cr3tvalue', d: 's3cr3tvalu', e: { 's3cr3tvalue': 'k' } },
    } as unknown as RRPair;
    const res = redactor().redact(rr);
    const sid = `REDACTED-COOKIE-${mac('s3cr3tvalue')}`;
    expect((rr as unknown as { signature: unknown }).signature).toEqual({
      a: [{ b: `mail REDACTED-EMAIL-${mac('jane@example.com')}` }, 'x', [`call REDACTED-PHONE-${mac('+14155552671')}`]],
      c: sid,
      d: 's3cr3tvalu',
      e: { [sid]: 'k' },
    });
    expect(res.findings.map((f) => `${f.path} ${f.category}`)).toEqual(['http.req.headers.Cookie.0.sid COOKIE', 'signature.a.0.b EMAIL', 'signature.a.2.0 PHONE']);
  });
});
