import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/receivers/file/lines.js';
import { jsonSyntaxError, MalformedRecordError, nestedDeeperThan, parseRRPairLine } from '../../src/rrpair/json.js';
import { jsonTooDeep, MAX_DEPTH } from '../../src/rrpair/otlp.js';

/** What the file receiver refuses, below the receiver (its tests are in test/core/file-limits.test.ts). */

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
