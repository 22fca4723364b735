import { describe, expect, it } from 'vitest';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { compileCondition, compileStatement, evalCtx, OttlError, OttlRuntimeError } from '../../src/ottl/index.js';
import type { RRPair } from '../../src/rrpair/types.js';

/*
 * OTTL semantics as documented in open-telemetry/opentelemetry-collector-contrib pkg/ottl
 * (LANGUAGE.md sections cited per group) and pkg/ottl/ottlfuncs/README.md (per function).
 */

function record(rr: Partial<RRPair> = {}, attributes: Record<string, unknown> = {}, resource: Record<string, unknown> = {}): RRRecord {
  const base: RRPair = { msgType: 'rrpair', ts: '2025-03-18T10:20:30.123456789Z', l7protocol: 'http', service: 'web', status: '200', duration: 12, tags: { k8sAppLabel: 'gateway', k8sAppPodNamespace: 'bank' }, ...rr };
  return newRecord(base, { attributes: attributes as RRRecord['attributes'], resource: resource as RRRecord['resource'], observedNs: 1_700_000_000_000_000_000n });
}

const cond = (text: string, r: RRRecord = record()) => compileCondition(text)(evalCtx(r));

/** The value of an expression, read back through set(cache[...]) so that only public API is used. */
function value(expr: string, r: RRRecord = record()): unknown {
  const c = evalCtx(r);
  compileStatement(`set(cache["v"], ${expr})`)(c);
  return c.cache.v;
}

describe('paths over an rrpipe record (log context: body is the RRPair, attributes, resource.attributes)', () => {
  it('reads body keys, nested keys, attributes and resource attributes; a missing key is nil', () => {
    const r = record({}, { service: 'web', namespace: 'bank' }, { cluster: 'c1' });
    expect(cond('body["tags"]["k8sAppLabel"] == "gateway"', r)).toBe(true);
    expect(cond('log.body["service"] == "web"', r)).toBe(true);
    expect(cond('attributes["namespace"] == "bank"', r)).toBe(true);
    expect(cond('resource.attributes["cluster"] == "c1"', r)).toBe(true);
    expect(cond('body["tags"]["absent"] == nil', r)).toBe(true);
    expect(cond('body["absent"]["deeper"] == nil', r)).toBe(true);
    expect(cond('attributes["absent"] != nil', r)).toBe(false);
  });

  it('time_unix_nano is the RRPair ts in ns; severity reads as its zero value', () => {
    const r = record();
    expect(value('time_unix_nano', r)).toBe(1742293230123456789n);
    expect(value('observed_time_unix_nano', r)).toBe(1_700_000_000_000_000_000n);
    expect(cond('severity_number == 0 and severity_text == ""', r)).toBe(true);
    expect(cond('severity_number < SEVERITY_NUMBER_WARN', r)).toBe(true);
  });

  it('indexing a string is an error, as in OTTL (ctxutil: type does not support indexing)', () => {
    expect(() => cond('body["service"]["x"] == "y"')).toThrow(OttlRuntimeError);
  });
});

describe('literals (LANGUAGE.md "Literals", "Lists", "Maps")', () => {
  it('strings with escapes, ints, floats, bools, nil, byte slices, lists and maps', () => {
    expect(value('"a \\"quoted\\" \\\\ string"')).toBe('a "quoted" \\ string');
    expect(value('-1')).toBe(-1n);
    expect(value('-.5')).toBe(-0.5);
    expect(value('1.5')).toBe(1.5);
    expect(cond('true')).toBe(true);
    expect(value('[1, "a", [true]]')).toEqual([1n, 'a', [true]]);
    expect(value('{"foo": {"a": 2}, "b": body["service"]}')).toEqual({ foo: { a: 2n }, b: 'web' });
    expect(cond('0x0102 == 0x0102')).toBe(true);
  });
});

describe('comparison rules (LANGUAGE.md "Comparison Rules")', () => {
  it('int and float compare as numbers; strings as strings; false < true', () => {
    expect(cond('1 == 1.0')).toBe(true);
    expect(cond('2 > 1.5')).toBe(true);
    expect(cond('body["duration"] == 12')).toBe(true); // a JSON number (float64) against an int literal
    expect(cond('body["duration"] >= 12.0 and body["duration"] < 13')).toBe(true);
    expect(cond('"abc" < "abd"')).toBe(true);
    expect(cond('false < true')).toBe(true);
  });

  it('different types are "not equal": != is true, every other operator false', () => {
    expect(cond('body["status"] == 200')).toBe(false); // "200" is a string
    expect(cond('body["status"] != 200')).toBe(true);
    expect(cond('body["status"] > 100')).toBe(false);
    expect(cond('body["status"] < 100')).toBe(false);
    expect(cond('"1" == true')).toBe(false);
  });

  it('nil equals only nil, and is never ordered', () => {
    expect(cond('nil == nil')).toBe(true);
    expect(cond('body["absent"] == nil')).toBe(true);
    expect(cond('body["absent"] < 1')).toBe(false);
    expect(cond('body["absent"] != 1')).toBe(true);
    expect(cond('nil >= nil')).toBe(false);
  });

  it('maps and lists compare deeply, only with == and !=', () => {
    expect(cond('body["tags"] == {"k8sAppLabel": "gateway", "k8sAppPodNamespace": "bank"}')).toBe(true);
    expect(cond('[1, 2] == [1, 2]')).toBe(true);
    expect(cond('[1, 2] != [2, 1]')).toBe(true);
    expect(cond('[1] < [2]')).toBe(false);
  });
});

describe('boolean expressions (LANGUAGE.md "Boolean Expressions": not > and > or, parentheses)', () => {
  it('and binds tighter than or; not applies to the comparison after it', () => {
    expect(cond('true or false and false')).toBe(true);
    expect(cond('(true or false) and false')).toBe(false);
    expect(cond('not body["service"] == "api"')).toBe(true);
    expect(cond('not (body["service"] == "web" and body["status"] == "200")')).toBe(false);
    expect(cond('not true or true')).toBe(true);
  });
});

describe('math expressions (LANGUAGE.md "Math Expressions")', () => {
  it('* and / before + and -, int division truncates, parentheses group; division by zero fails', () => {
    expect(value('1 + 2 * 3')).toBe(7n);
    expect(value('(1 + 2) * 3')).toBe(9n);
    expect(value('7 / 2')).toBe(3n);
    expect(value('7.0 / 2.0')).toBe(3.5);
    expect(cond('(1 + 2) == 3')).toBe(true);
    expect(value('body["duration"] * 2')).toBe(24); // rrpipe: JSON numbers are float64, mixed math in float64
    expect(() => value('1 / 0')).toThrow(/divide by 0/);
  });
});

describe('converters (ottlfuncs README: Double, Int, String, IsMatch, Concat, IsString, IsMap)', () => {
  it('Double: numbers, numeric strings, bools; nil when it cannot parse', () => {
    expect(value('Double(body["duration"])')).toBe(12);
    expect(value('Double("2.5")')).toBe(2.5);
    expect(value('Double(true)')).toBe(1);
    expect(value('Double(3)')).toBe(3);
    expect(value('Double("abc")')).toBeUndefined(); // nil: set() does nothing
  });

  it('Int: truncates floats toward zero, parses integer strings only ("2.0" gives nil)', () => {
    expect(value('Int(-2.7)')).toBe(-2n);
    expect(value('Int("42")')).toBe(42n);
    expect(value('Int("2.0")')).toBeUndefined();
    expect(value('Int(false)')).toBe(0n);
  });

  it('String: numbers with strconv, maps as JSON with sorted keys, bytes as hex', () => {
    expect(value('String(12)')).toBe('12');
    expect(value('String(1.5)')).toBe('1.5');
    expect(value('String(false)')).toBe('false');
    expect(value('String({"b": 1, "a": "x"})')).toBe('{"a":"x","b":1}');
    expect(value('String(0x0aff)')).toBe('0aff');
  });

  it('IsMatch: an RE2 search; non-strings converted; nil is false', () => {
    expect(cond('IsMatch(body["tags"]["k8sAppLabel"], "^gate")')).toBe(true);
    expect(cond('IsMatch(body["duration"], "^1[0-9]$")')).toBe(true);
    expect(cond('IsMatch(body["absent"], ".*")')).toBe(false);
    expect(cond('IsMatch("ABC", "(?i)abc")')).toBe(true);
    expect(cond('not IsMatch("string", ".*ring") == false')).toBe(true);
  });

  it('Concat: string forms joined by the delimiter, nil as <nil>', () => {
    expect(value('Concat([body["service"], body["status"], 1, 2.5, true], "/")')).toBe('web/200/1/2.5/true');
    expect(value('Concat(["a", body["absent"]], "-")')).toBe('a-<nil>');
    expect(value('Concat(vals = ["x", "y"], delimiter = "")')).toBe('xy');
  });

  it('IsString, IsMap, and keys on a converter result', () => {
    expect(cond('IsString(body["service"]) and IsMap(body["tags"]) and not IsMap(body["service"])')).toBe(true);
    expect(cond('IsString(body["duration"])')).toBe(false);
  });
});

describe('editors (ottlfuncs README: set, delete_key, delete_matching_keys, keep_keys, merge_maps) and where', () => {
  const run = (statement: string, r: RRRecord) => compileStatement(statement)(evalCtx(r));

  it('set: writes body, attributes and resource attributes, creates nested maps; nil does nothing', () => {
    const r = record({}, { service: 'web' });
    run('set(resource.attributes["service"], attributes["service"])', r);
    run('set(attributes["duration_ms"], Double(body["duration"]))', r);
    run('set(body["tags"]["extra"]["deep"], "x")', r);
    run('set(attributes["kept"], body["absent"])', r);
    run('set(attributes["n"], Int("7"))', r);
    expect(r.resource).toEqual({ service: 'web' });
    expect(r.attributes).toEqual({ service: 'web', duration_ms: 12, n: 7 });
    expect((r.rrpair.tags as Record<string, unknown>).extra).toEqual({ deep: 'x' });
  });

  it('set copies maps: a later change of the source does not change the copy', () => {
    const r = record();
    run('set(attributes["tags"], body["tags"])', r);
    run('set(body["tags"]["k8sAppLabel"], "changed")', r);
    expect((r.attributes as Record<string, unknown>).tags).toEqual({ k8sAppLabel: 'gateway', k8sAppPodNamespace: 'bank' });
  });

  it('where: the editor runs only when the condition holds', () => {
    const r = record({}, {});
    run('set(attributes["http"], true) where body["l7protocol"] == "http"', r);
    run('set(attributes["grpc"], true) where body["l7protocol"] == "grpc"', r);
    expect(r.attributes).toEqual({ http: true });
  });

  it('delete_key, delete_matching_keys (RE2), keep_keys', () => {
    const r = record({}, { a: 1, password: 'x', 'db.Password': 'y', keep: true, other: 2 });
    run('delete_key(attributes, "a")', r);
    run('delete_matching_keys(attributes, "(?i).*password.*")', r);
    expect(Object.keys(r.attributes).sort()).toEqual(['keep', 'other']);
    run('keep_keys(attributes, ["keep"])', r);
    expect(r.attributes).toEqual({ keep: true });
  });

  it('merge_maps: insert keeps existing keys, update changes only existing ones, upsert does both', () => {
    const mk = () => record({}, { a: 'old', b: 'old' });
    const src = '{"b": "new", "c": "new"}';
    const ins = mk();
    run(`merge_maps(attributes, ${src}, "insert")`, ins);
    expect(ins.attributes).toEqual({ a: 'old', b: 'old', c: 'new' });
    const upd = mk();
    run(`merge_maps(attributes, ${src}, "update")`, upd);
    expect(upd.attributes).toEqual({ a: 'old', b: 'new' });
    const ups = mk();
    run(`merge_maps(attributes, ${src}, "upsert")`, ups);
    expect(ups.attributes).toEqual({ a: 'old', b: 'new', c: 'new' });
    expect(() => run('merge_maps(attributes, body["service"], "upsert")', mk())).toThrow(OttlRuntimeError);
  });

  it('time_unix_nano can be set; severity cannot (rrpipe records carry none)', () => {
    const r = record();
    run('set(time_unix_nano, 1742293230000000001)', r);
    expect(r.rrpair.ts).toBe('2025-03-18T10:20:30.000000001Z');
    expect(() => compileStatement('set(severity_text, "WARN")')).toThrow(/cannot be set/);
  });
});

describe('resource context', () => {
  it('attributes are the resource attributes', () => {
    const r = record({}, { a: 1 }, { cluster: 'c1' });
    compileStatement('set(attributes["env"], "prod") where attributes["cluster"] == "c1"', 'resource')(evalCtx(r));
    expect(r.resource).toEqual({ cluster: 'c1', env: 'prod' });
    expect(r.attributes).toEqual({ a: 1 });
  });
});

describe('parse and compile errors name the character', () => {
  const offsetOf = (fn: () => unknown): { offset: number; message: string } => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(OttlError);
      return { offset: (err as OttlError).offset, message: (err as Error).message };
    }
    throw new Error('no error');
  };

  it.each([
    ['body["a"] = "x"', 10, /"=" is not a comparison/],
    ['body["a"] == "x" and', 20, /end of the expression/],
    ['body["a"] == "unterminated', 13, /unterminated string/],
    ['attributes["x"]', 15, /comparison operator/],
    ['Nope(body) == 1', 0, /unknown converter "Nope"/],
    ['bodyy["a"] == 1', 0, /unknown path "bodyy"/],
    ['IsMatch(body["a"], "(unclosed") ', 19, /invalid regex/],
    ['IsMatch(body["a"], "(a)\\\\1")', 19, /invalid regex/],
    ['body["a"] == UNKNOWN_ENUM', 13, /unknown enum/],
    ['body["a"] == (1', 15, /expected "\)"/],
  ])('condition %s', (text, offset, msg) => {
    const e = offsetOf(() => compileCondition(text));
    expect(e.message).toMatch(msg);
    expect(e.offset).toBe(offset);
  });

  it.each([
    ['set(attributes["a"], )', 21, /expected a value/],
    ['Set(attributes["a"], 1)', 0, /converter/],
    ['set(attributes["a"], 1) when true', 24, /"where"/],
    ['frobnicate(attributes)', 0, /unknown editor/],
    ['set(attributes["a"])', 0, /missing its "value" argument/],
    ['merge_maps(attributes, {}, "replace")', 27, /strategy/],
    ['set("x", 1)', 4, /target must be a path/],
    ['delete_key(attributes, key = 1)', 29, /string literal/],
  ])('statement %s', (text, offset, msg) => {
    const e = offsetOf(() => compileStatement(text));
    expect(e.message).toMatch(msg);
    expect(e.offset).toBe(offset);
  });
});

describe('hostile keys', () => {
  it('"__proto__" is an ordinary key: set and merge_maps never touch a prototype', () => {
    const r = record();
    compileStatement('set(attributes["__proto__"]["polluted"], "yes")')(evalCtx(r));
    compileStatement('merge_maps(attributes, body["x"], "upsert")')(evalCtx(newRecord(JSON.parse('{"ts":"t","x":{"__proto__":{"polluted2":"yes"}}}') as RRPair)));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
    expect(Object.getPrototypeOf(r.attributes)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(r.attributes, '__proto__')?.value).toEqual({ polluted: 'yes' });
  });
});
