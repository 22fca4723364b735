import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { factory as tokenization } from '../../src/processors/tokenization/index.js';
import { decodeJwt, encodeJwt } from '../../src/rrpair/tokens.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, b64, makeProcessor, rec, unb64 } from './helpers.js';
import { tmp } from '../support/index.js';

const dir = tmp('rrpipe-render-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function quiet() {
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  return { err, restore: () => err.mockRestore() };
}

describe('rrpipe render', () => {
  it('renders a tokenized raw.jsonl: round trip at offset 0, dates and JWTs moved with --offset, malformed lines reported', async () => {
    const jwt = encodeJwt({ typ: 'JWT' }, { sub: 'a', iat: 1742258500, exp: 1742262100 }, 'old');
    const mine: RRPair = { ts: '2025-03-18T00:41:46Z', http: { req: { method: 'GET', uri: '/x', headers: { Authorization: [`Bearer ${jwt}`] } },
      res: { statusCode: 200, headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64('{"at":"2025-03-18T00:41:46Z","n":1}') } } };
    const originals = [mine, ...allSamples().slice(0, 5)];
    const { proc, sink } = await makeProcessor(tokenization, { mode: 'parameterize' });
    await proc.consume(originals.map((o) => rec(structuredClone(o))), {});
    const inFile = join(dir, 'in.jsonl');
    writeFileSync(inFile, sink.records.map((r) => JSON.stringify(r.rrpair)).join('\n') + '\nnot json\n');

    const q = quiet();
    const out0 = join(dir, 'out0.jsonl');
    expect(await main(['render', '-i', inFile, '-o', out0])).toBe(1); // the malformed line
    expect(q.err.mock.calls.flat().join('\n')).toMatch(/line 7: not an RRPair/);
    const back = readFileSync(out0, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RRPair);
    expect(back).toHaveLength(originals.length);
    expect(back[0]).toEqual(mine);

    const out1 = join(dir, 'out1.jsonl');
    expect(await main(['render', '-i', inFile, '-o', out1, '--offset', '2h', '--jwt-key', 'new-key'])).toBe(1);
    q.restore();
    const moved = JSON.parse(readFileSync(out1, 'utf8').split('\n')[0]!) as RRPair;
    expect(JSON.parse(unb64(moved.http!.res!.bodyBase64!))).toEqual({ at: '2025-03-18T02:41:46Z', n: 1 });
    const claims = decodeJwt(moved.http!.req!.headers!.Authorization![0]!.slice(7))!.claims;
    expect(claims).toEqual({ sub: 'a', iat: 1742258500 + 7200, exp: 1742262100 + 7200 });
  });

  it('--to-now moves the first RRPair to now; usage errors exit 2', async () => {
    const f = join(dir, 'one.jsonl');
    writeFileSync(f, JSON.stringify({ ts: '2025-03-18T00:00:00Z', http: { res: { headers: { Date: ['Tue, 18 Mar 2025 00:00:00 GMT'] } } }, tokens: [{ location: 'http.res.headers.Date.0', pattern: 'DATA_PATTERN_DATE', format: 'rfc1123', replacementValue: b64('Tue, 18 Mar 2025 00:00:00 GMT') }] }) + '\n');
    const out = join(dir, 'one.out.jsonl');
    const q = quiet();
    const before = Date.now();
    expect(await main(['render', '-i', f, '-o', out, '--to-now'])).toBe(0);
    const after = Date.now();
    const d = Date.parse((JSON.parse(readFileSync(out, 'utf8')) as RRPair).http!.res!.headers!.Date![0]!);
    // The Date header has whole seconds: "now" is between the second the command started and when it ended.
    expect(d).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(d).toBeLessThanOrEqual(after);
    expect(await main(['render', '--offset', '1h', '--to-now'])).toBe(2);
    expect(await main(['render', '--offset', 'soon'])).toBe(2);
    q.restore();
  });
});

describe('config', () => {
  it('all four processors are registered and their configs validate through the loader; mistakes are reported with file:line', async () => {
    const registry = await builtinRegistry();
    for (const t of ['filter', 'redaction', 'tokenization', 'indexing']) expect(registry.get('processor', t)?.type).toBe(t);
    const yaml = (extra: string) => `
processors:
  filter:
    exclude: { rules: [ { field: location, prefix: /healthz } ] }
    sample: [ { keep: 5, window: 10s } ]
  redaction:
    secret: s3cr3t
    rules: [ { path: '$.user.ssn' } ]${extra}
  tokenization: { mode: annotate }
  indexing:
    extra_fields: { tenant: http.req.headers.X-Tenant }
exporters:
  debug: {}
service:
  pipelines:
    logs:
      receivers: []
      processors: [filter, redaction, tokenization, indexing]
      exporters: [debug]
`;
    // No receiver exists on this branch yet, so the loader always reports the empty receiver list;
    // the processor sections must add nothing to it, and a bad key must be reported.
    const problems = async (text: string) => {
      try {
        await loadConfig(['x.yaml'], { registry, texts: { 'x.yaml': text } });
        return '';
      } catch (err) {
        return (err as Error).message.split('\n').filter((l) => !/receivers/.test(l)).join('\n');
      }
    };
    expect(await problems(yaml(''))).toBe('');
    expect(await problems(yaml('\n    bogus: 1'))).toMatch(/x\.yaml:\d+:\d+: processors\.redaction: unknown key "bogus"/);
  });
});
