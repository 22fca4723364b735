import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tmp } from '../support/index.js';

// `rrpipe render` as a user runs it (README: `rrpipe render FILE`): the traffic's own time (ts)
// moves with its dates, by --offset or to where --to / --to-now put the first RRPair.

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** An RRPair whose response Date header is a date token (annotate mode), at the given instant. */
function pair(uuid: string, ts: string) {
  const date = new Date(Date.parse(ts)).toUTCString();
  return {
    msgType: 'rrpair', uuid, ts, l7protocol: 'http', direction: 'IN',
    http: { req: { method: 'GET', uri: '/x' }, res: { statusCode: 200, headers: { Date: [date] } } },
    tokens: [{ location: 'http.res.headers.Date.0', pattern: 'DATA_PATTERN_DATE', format: 'rfc1123', replacementValue: b64(date) }],
  };
}

type Out = { uuid: string; ts: string; http: { res: { headers: { Date: string[] } } } };

function input(): string {
  const f = join(tmp('rrpipe-render-cli-'), 'tokenized.jsonl');
  // Speedscale's ts has microseconds; the second RRPair is 90 s after the first.
  writeFileSync(f, [pair('a', '2025-03-18T00:41:46.221941Z'), pair('b', '2025-03-18T00:43:16.221941Z')].map((p) => JSON.stringify(p)).join('\n') + '\n');
  return f;
}

const read = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Out);

describe('rrpipe render (the CLI)', () => {
  it('takes the input file as a positional argument, as -i does', async () => {
    const f = input();
    const positional = await runCli(['render', f, '--offset', '1h']);
    const withI = await runCli(['render', '-i', f, '--offset', '1h']);
    expect(positional.code, positional.stderr).toBe(0);
    expect(withI.code, withI.stderr).toBe(0);
    expect(read(positional.stdout)).toHaveLength(2);
    expect(positional.stdout).toBe(withI.stdout);
    const both = await runCli(['render', f, '-i', f]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give the input file once/);
    const two = await runCli(['render', f, f]);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/one input file at most/);
  });

  it('--offset moves each RRPair\'s ts (digits kept) by the same offset as its dates', async () => {
    const r = await runCli(['render', input(), '--offset=-15m']); // '--offset -15m': cli-negative-values.test.ts
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = read(r.stdout);
    expect(a!.ts).toBe('2025-03-18T00:26:46.221941Z');
    expect(b!.ts).toBe('2025-03-18T00:28:16.221941Z');
    expect(a!.http.res.headers.Date[0]).toBe('Tue, 18 Mar 2025 00:26:46 GMT');
    expect(b!.http.res.headers.Date[0]).toBe('Tue, 18 Mar 2025 00:28:16 GMT');
  });

  it('--to puts the first RRPair\'s ts at TIME and moves the others and every date by the same offset', async () => {
    const r = await runCli(['render', input(), '--to', '2026-01-02T03:04:05Z']);
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = read(r.stdout);
    expect(Date.parse(a!.ts)).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(a!.ts).toBe('2026-01-02T03:04:05.000941Z'); // the offset is whole ms: the µs digits stay
    expect(Date.parse(b!.ts) - Date.parse(a!.ts)).toBe(90_000);
    // The Date header (whole seconds, 00:41:46 for a ts of 00:41:46.221941) moved by that offset too.
    const offset = Date.parse('2026-01-02T03:04:05Z') - Date.parse('2025-03-18T00:41:46.221Z');
    expect(a!.http.res.headers.Date[0]).toBe(new Date(Date.parse('2025-03-18T00:41:46Z') + offset).toUTCString());
    expect(b!.http.res.headers.Date[0]).toBe(new Date(Date.parse('2025-03-18T00:43:16Z') + offset).toUTCString());
  });

  it('--to-now puts the first RRPair\'s ts at the time the command ran', async () => {
    const before = Date.now();
    const out = join(tmp('rrpipe-render-cli-'), 'out.jsonl');
    const r = await runCli(['render', input(), '-o', out, '--to-now']);
    const after = Date.now();
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = read(readFileSync(out, 'utf8'));
    expect(Date.parse(a!.ts)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(a!.ts)).toBeLessThanOrEqual(after);
    expect(Date.parse(b!.ts) - Date.parse(a!.ts)).toBe(90_000);
    // the Date header (whole seconds) moved by the same offset as ts
    const offset = Date.parse(a!.ts) - Date.parse('2025-03-18T00:41:46.221Z');
    expect(a!.http.res.headers.Date[0]).toBe(new Date(Date.parse('2025-03-18T00:41:46Z') + offset).toUTCString());
  });
});
