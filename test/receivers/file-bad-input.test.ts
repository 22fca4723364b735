import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LineSplitter } from '../../src/receivers/file/lines.js';
import { jsonSyntaxError, MalformedRecordError, nestedDeeperThan, parseRRPairLine } from '../../src/rrpair/json.js';
import { jsonTooDeep, MAX_DEPTH } from '../../src/rrpair/otlp.js';
import { Service } from '../../src/service/service.js';
import { sinks, testRegistry } from '../support/capture.js';
import { generate } from '../support/samples.js';
import { tmp } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

/**
 * Bad input to the file receiver (a bad-input probe): lines that are JSON but not RRPairs, nested
 * too deep, not JSON with a credential in them, or not UTF-8 are dead-lettered with a reason that
 * quotes nothing of the line, counted and logged; the good lines around them are delivered.
 */

async function run(dir: string) {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) logs.push(l); cb(); } }));
  const s = new Service({
    files: ['t.yaml'],
    texts: { 't.yaml': `
receivers:
  file: { include: ["${dir}/in/*"], follow: false }
exporters:
  capture: { label: badinput }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
` },
    registry: await testRegistry(),
    logger,
    oneShot: true,
  });
  sinks.delete('badinput');
  await s.start();
  await s.receiversDone();
  const counts = {
    received: await s.telemetry.total('received', { component: 'file', kind: 'receiver' }),
    accepted: await s.telemetry.total('accepted', { component: 'file', kind: 'receiver' }),
    deadLettered: await s.telemetry.total('dead_lettered', { component: 'file' }),
  };
  await s.shutdown();
  const dlDir = join(dir, 'state', 'dead_letter');
  const dlText = readdirSync(dlDir).map((f) => readFileSync(join(dlDir, f), 'utf8')).join('');
  const dead = dlText.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; source?: string });
  return { counts, dead, dlText, logs, delivered: sinks.get('badinput') ?? [] };
}

const DEPTH = 100_000;

describe('file receiver: bad input is dead-lettered with a reason that quotes nothing of it', () => {
  it('a JSON object that is not an RRPair, a line nested 100,000 deep, a credential in broken JSON, invalid UTF-8: each refused, the good lines delivered', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const good = generate(5).map((r) => JSON.stringify(r));
    const notRRPair = '{"hello":"not an rrpair","password":"FILEPWD1"}';
    const deep = `{"msgType":"rrpair","ts":"2025-03-18T00:00:00Z","http":{"req":{"body":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}}}`;
    const leak = '{"msgType":"rrpair","api_key": LOGLEAK_sk_live_0123456789}';
    // A whole RRPair but for one byte that is not UTF-8 (0xff) in a string.
    const badUtf8 = Buffer.from(good[0]!.replace('"service":"', '"service":"\u0001'), 'utf8');
    badUtf8[badUtf8.indexOf(1)] = 0xff;
    const file = Buffer.concat([
      Buffer.from([good[0], notRRPair, good[1], deep, good[2], leak, good[3]].join('\n') + '\n'),
      badUtf8,
      Buffer.from('\n' + good[4] + '\n'),
    ]);
    writeFileSync(join(dir, 'in', 'a.jsonl'), file);
    const r = await run(dir);

    // Soft: each refusal is reported on its own when it fails.
    expect.soft(r.delivered.map((x) => x.rrpair.uuid)).toEqual(generate(5).map((x) => x.uuid));
    expect.soft(r.counts.deadLettered).toBe(4);
    expect.soft(r.counts.received).toBe(r.counts.accepted + r.counts.deadLettered);
    const bySource = Object.fromEntries(r.dead.map((d) => [d.source, d.reason]));
    const src = (n: number) => `${join(dir, 'in', 'a.jsonl')}:${n}`;
    expect.soft(bySource[src(2)]).toMatch(/^malformed line: not an RRPair/);
    expect.soft(bySource[src(4)]).toBe(`malformed line: value nested deeper than ${MAX_DEPTH} levels`);
    expect.soft(bySource[src(6)]).toBe(`malformed line: invalid JSON at byte ${leak.indexOf('LOGLEAK')}: unexpected character`);
    expect.soft(bySource[src(8)]).toBe('malformed line: not valid UTF-8');
    // Neither the logs nor the dead-letter file (a hash only: no pipeline redacts) hold the credentials.
    for (const secret of ['LOGLEAK', 'FILEPWD1']) {
      expect.soft(r.dlText).not.toContain(secret);
      expect.soft(r.logs.join('\n')).not.toContain(secret);
    }
    const refused = r.logs.map((l) => JSON.parse(l) as { msg: string; line?: number; reason?: string }).filter((l) => l.msg === 'refused a line');
    expect.soft(refused.map((l) => l.line)).toEqual([2, 4, 6, 8]);
  }, 60_000);
});

describe('parseRRPairLine', () => {
  it('refuses what is not an RRPair by the otlp receiver\'s test, and values nested deeper than its limit', () => {
    expect(() => parseRRPairLine('{"hello":"not an rrpair"}')).toThrow(/not an RRPair/);
    expect(() => parseRRPairLine('{"ts":"2025-03-18T00:00:00Z"}')).toThrow(/not an RRPair/);
    expect(parseRRPairLine('{"msgType":"rrpair"}')).toEqual({ msgType: 'rrpair' });
    expect(parseRRPairLine('{"ts":"t","http":{}}')).toEqual({ ts: 't', http: {} });
    const at = (d: number) => `{"msgType":"rrpair","x":${'['.repeat(d - 1)}${']'.repeat(d - 1)}}`;
    expect(() => parseRRPairLine(at(MAX_DEPTH))).not.toThrow();
    expect(() => parseRRPairLine(at(MAX_DEPTH + 1))).toThrow(new MalformedRecordError(`value nested deeper than ${MAX_DEPTH} levels`));
  });

  it('nestedDeeperThan of a parsed value answers as jsonTooDeep of its text', () => {
    const texts = ['{}', '[]', '{"a":[{"b":[[]]}]}', '{"a":"[[[[[[[[","b":{"c":{}}}', '[[1,[2,{"x":[3]}]],{}]'];
    for (let d = 60; d <= 70; d++) texts.push(`{"a":${'{"b":'.repeat(d - 1)}1${'}'.repeat(d - 1)}}`, `[${'['.repeat(d - 1)}${']'.repeat(d - 1)}]`);
    for (const t of texts) for (const max of [1, 2, 3, 4, MAX_DEPTH]) expect(nestedDeeperThan(JSON.parse(t), max), `${t.slice(0, 30)} max ${max}`).toBe(jsonTooDeep(t, max));
  });

  it('says where JSON breaks, in bytes, without quoting the line', () => {
    const cases: [string, string][] = [
      ['{"api_key": LOGLEAK_sk"}', 'invalid JSON at byte 12: unexpected character'],
      ['{"é":"x', 'invalid JSON at byte 8: unexpected end of input'],
      ['{"a":1', 'invalid JSON at byte 6: unexpected end of input'],
      ['{"a":1 "b":2}', "invalid JSON at byte 7: expected ',' or '}' after a value"],
      ['{"a":[1 2]}', "invalid JSON at byte 8: expected ',' or ']' after a value"],
      ['{"a":1}SECRET', 'invalid JSON at byte 7: unexpected character after the JSON value'],
      ['{SECRET:1}', 'invalid JSON at byte 1: expected a property name in double quotes'],
      ['{"a" 1}', "invalid JSON at byte 5: expected ':' after a property name"],
      ['{"a":"\u0001"}', 'invalid JSON at byte 6: control character in a string'],
      ['{"a":"\\q"}', 'invalid JSON at byte 7: bad escape in a string'],
      ['{"a":"\\u12G4"}', 'invalid JSON at byte 10: bad \\u escape in a string'],
      ['{"a":01}', "invalid JSON at byte 6: expected ',' or '}' after a value"],
      ['{"a":1.}', 'invalid JSON at byte 7: bad number'],
      ['{"a":-}', 'invalid JSON at byte 6: bad number'],
      ['{"a":tru}', 'invalid JSON at byte 5: unexpected character'],
      ['{"a":[1,]}', 'invalid JSON at byte 8: unexpected character'],
      ['', 'invalid JSON at byte 0: unexpected end of input'],
    ];
    for (const [text, want] of cases) {
      expect(() => JSON.parse(text)).toThrow();
      expect(jsonSyntaxError(text), text).toBe(want);
      expect(() => parseRRPairLine(text)).toThrow(new MalformedRecordError(want));
    }
  });
});

describe('LineSplitter: UTF-8', () => {
  const lines = (chunks: Buffer[]) => {
    const s = new LineSplitter(0, 0, 1 << 20);
    const out = chunks.flatMap((c) => s.push(c));
    const rest = s.rest();
    return [...out, ...(rest ? [rest] : [])].map((l) => ('invalidUtf8' in l ? `BAD ${l.number}` : 'text' in l ? l.text : 'OVER'));
  };

  it('marks lines that are not valid UTF-8, wherever the chunks are cut, and only those', () => {
    const bytes = Buffer.concat([Buffer.from('héllo\n€uro\n'), Buffer.from([0x61, 0xc3, 0x28, 0x0a]), Buffer.from('日本\n'), Buffer.from([0xed, 0xa0, 0x80, 0x0a]), Buffer.from('ok\nlast €')]);
    const want = ['héllo', '€uro', 'BAD 3', '日本', 'BAD 5', 'ok', 'last €'];
    expect(lines([bytes])).toEqual(want);
    // Cut at every byte, and into single bytes: a character split between chunks is no error.
    for (let cut = 1; cut < bytes.length; cut++) expect(lines([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toEqual(want);
    expect(lines([...bytes].map((b) => Buffer.from([b])))).toEqual(want);
  });

  it('an unterminated last line that is not UTF-8 is marked too', () => {
    expect(lines([Buffer.from('ok\n'), Buffer.from([0x7b, 0xff, 0x7d])])).toEqual(['ok', 'BAD 2']);
  });
});

describe('file receiver following a file: refused lines logged at most 20 a minute, a stuck unterminated line reported', () => {
  it('past 20 refused lines in a minute, their number is logged when the minute ends and the next minute logs lines again; an incomplete last line unchanged for a minute is logged and counted once', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const file = join(dir, 'in', 'a.jsonl');
    const logs: { msg: string; refused_not_logged?: number; line?: number; bytes?: number }[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }));
    const bad = (from: number, n: number) => Array.from({ length: n }, (_, i) => `not json ${from + i}`).join('\n') + '\n';
    writeFileSync(file, JSON.stringify(generate(1)[0]) + '\n' + bad(0, 25));
    const s = new Service({
      files: ['t.yaml'],
      texts: { 't.yaml': `
receivers:
  file: { include: ["${dir}/in/*"], follow: true, poll_interval: 20ms }
exporters:
  capture: { label: follow-bad }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
` },
      registry: await testRegistry(),
      logger,
    });
    sinks.delete('follow-bad');
    const dead = () => s.telemetry.total('dead_lettered', { component: 'file' });
    const held = async () => (await s.telemetry.registry.getSingleMetric('rrpipe_file_incomplete_lines_held_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
    const refusedLogged = () => logs.filter((l) => l.msg === 'refused a line').length;
    try {
      await s.start();
      await waitFor(async () => (await dead()) === 25, { what: '25 refused lines' });
      expect(sinks.get('follow-bad')).toHaveLength(1);
      expect(refusedLogged()).toBe(20);
      expect(logs.filter((l) => /^more refused lines/.test(l.msg))).toHaveLength(1);

      // A minute later: how many went unlogged, then new refused lines are logged again.
      vi.setSystemTime(Date.now() + 61_000);
      appendFileSync(file, bad(25, 2) + 'half a line, its writer gone');
      await waitFor(async () => (await dead()) === 27, { what: '27 refused lines' });
      await waitFor(() => refusedLogged() === 22, { what: 'the 2 new refused lines logged' });
      expect(logs.filter((l) => l.refused_not_logged !== undefined).map((l) => l.refused_not_logged)).toEqual([5]);

      // The unterminated last line, unchanged for a minute: logged and counted once, still held.
      expect(await held()).toBe(0);
      vi.setSystemTime(Date.now() + 61_000);
      await waitFor(async () => (await held()) === 1, { what: 'the held line counted' });
      const report = logs.filter((l) => /incomplete line/.test(l.msg));
      expect(report).toHaveLength(1);
      expect(report[0]).toMatchObject({ line: 29, bytes: 'half a line, its writer gone'.length });
      // Its newline comes: it is read (here, refused) like any line.
      appendFileSync(file, '\n');
      await waitFor(async () => (await dead()) === 28, { what: 'the completed line refused' });
      expect(await held()).toBe(1);
    } finally {
      await s.shutdown();
      vi.useRealTimers();
    }
  }, 60_000);
});
