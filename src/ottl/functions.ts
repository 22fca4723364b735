import { createHash } from 'node:crypto';
import type { Node } from './ast.js';
import type { CompiledPath, Getter } from './context.js';
import { OttlError, OttlRuntimeError } from './errors.js';
import type { Regex } from './regex.js';
import {
  asString, isMap, isNil, parseFloatStrict, parseIntStrict, put, toStored, typeName, type Value,
} from './values.js';

/** What a function's compile step can ask of the compiler for its arguments. */
export interface ArgTools {
  /** Any value (literal, path, converter, math), evaluated per record. */
  value(n: Node): Getter;
  /** A path that the editor writes to. */
  target(n: Node): CompiledPath;
  /** A string literal, known at config time. */
  literal(n: Node, what: string): string;
  /** A list of string literals, known at config time. */
  literalList(n: Node, what: string): string[];
  /** A regex string literal, compiled once. */
  regex(n: Node): Regex;
}

export interface FunctionDef {
  /** Parameter names, as OTel spells them (for named arguments). */
  params: string[];
  /** How many leading parameters are required. */
  required: number;
  compile(args: (Node | undefined)[], t: ArgTools, at: number): Getter;
}

function mapOf(v: Value, what: string): Record<string, unknown> {
  if (!isMap(v)) throw new OttlRuntimeError(`${what} must be a map, not ${typeName(v)}`);
  return v;
}

/** Double(): float64 from a number, numeric string or bool; nil otherwise (ottlfuncs README, "Double"). */
function toDouble(v: Value): Value {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return parseFloatStrict(v) ?? null;
  return null;
}

/** Int(): int64 from a number (truncated toward zero), integer string or bool; nil otherwise (ottlfuncs README, "Int"). */
function toInt(v: Value): Value {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : null;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') return parseIntStrict(v) ?? null;
  return null;
}

/** String(): the value as text; bytes as hex, maps and lists as JSON; nil stays nil (ottlfuncs README, "String"). */
function toStr(v: Value): Value {
  if (isNil(v)) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return asString(v) ?? null;
}

/** Concat's text for one value: StringLike conversion, nil as "<nil>" (ottlfuncs func_concat.go). */
function concatPart(v: Value): string {
  if (isNil(v)) return '<nil>';
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return asString(v)!;
}

const unary = (fn: (v: Value) => Value): FunctionDef => ({
  params: ['value'],
  required: 1,
  compile: ([a], t) => {
    const g = t.value(a!);
    return (c) => fn(g(c));
  },
});

export const CONVERTERS: Record<string, FunctionDef> = {
  Double: unary(toDouble),
  Int: unary(toInt),
  String: unary(toStr),
  IsString: unary((v) => typeof v === 'string'),
  IsMap: unary((v) => isMap(v)),
  IsList: unary((v) => Array.isArray(v)),
  IsBool: unary((v) => typeof v === 'boolean'),
  ToLowerCase: unary((v) => {
    if (typeof v !== 'string') throw new OttlRuntimeError(`ToLowerCase needs a string, not ${typeName(v)}`);
    return v.toLowerCase();
  }),
  ToUpperCase: unary((v) => {
    if (typeof v !== 'string') throw new OttlRuntimeError(`ToUpperCase needs a string, not ${typeName(v)}`);
    return v.toUpperCase();
  }),
  SHA256: unary((v) => {
    if (typeof v !== 'string') throw new OttlRuntimeError(`SHA256 needs a string, not ${typeName(v)}`);
    return createHash('sha256').update(v, 'utf8').digest('hex');
  }),
  IsMatch: {
    params: ['target', 'pattern'],
    required: 2,
    compile: ([target, pattern], t) => {
      const g = t.value(target!);
      const re = t.regex(pattern!);
      return (c) => {
        const v = g(c);
        if (isNil(v)) return false;
        return re.test(asString(v)!);
      };
    },
  },
  Concat: {
    params: ['vals', 'delimiter'],
    required: 2,
    compile: ([vals, delimiter], t) => {
      const items = vals!.kind === 'list' ? vals!.items.map((n) => t.value(n)) : undefined;
      const list = items ? undefined : t.value(vals!);
      const delim = t.value(delimiter!);
      return (c) => {
        const d = delim(c);
        if (typeof d !== 'string') throw new OttlRuntimeError(`the Concat delimiter must be a string, not ${typeName(d)}`);
        let parts: Value[];
        if (items) parts = items.map((g) => g(c));
        else {
          const l = list!(c);
          if (!Array.isArray(l)) throw new OttlRuntimeError(`Concat takes a list of values, not ${typeName(l)}`);
          parts = l;
        }
        return parts.map(concatPart).join(d);
      };
    },
  },
};

/** merge_maps strategies (ottlfuncs README, "merge_maps"). */
const STRATEGIES = ['insert', 'update', 'upsert'];

/** delete_matching_keys (matching: true) and keep_matching_keys (false): drop the keys whose match against the pattern equals `matching`. */
function deleteKeysWhere(matching: boolean): FunctionDef {
  return {
    params: ['target', 'pattern'],
    required: 2,
    compile: ([target, pattern], t) => {
      const p = t.target(target!);
      const re = t.regex(pattern!);
      return (c) => {
        const m = p.get(c);
        if (isNil(m)) return null;
        const map = mapOf(m, p.text);
        for (const k of Object.keys(map)) if (re.test(k) === matching) delete map[k];
        return null;
      };
    },
  };
}

export const EDITORS: Record<string, FunctionDef> = {
  set: {
    params: ['target', 'value'],
    required: 2,
    compile: ([target, value], t) => {
      const p = t.target(target!);
      const g = t.value(value!);
      const set = p.set!;
      return (c) => {
        const v = g(c);
        // set with a nil value does nothing (ottlfuncs README, "set"; ottl.set.allowNil off).
        if (!isNil(v)) set(c, v);
        return null;
      };
    },
  },
  delete_key: {
    params: ['target', 'key'],
    required: 2,
    compile: ([target, key], t) => {
      const p = t.target(target!);
      const k = t.literal(key!, 'the key');
      return (c) => {
        const m = p.get(c);
        if (isNil(m)) return null;
        delete mapOf(m, p.text)[k];
        return null;
      };
    },
  },
  delete_matching_keys: deleteKeysWhere(true),
  keep_matching_keys: deleteKeysWhere(false),
  keep_keys: {
    params: ['target', 'keys'],
    required: 2,
    compile: ([target, keys], t) => {
      const p = t.target(target!);
      const keep = new Set(t.literalList(keys!, 'keys'));
      return (c) => {
        const m = p.get(c);
        if (isNil(m)) return null;
        const map = mapOf(m, p.text);
        for (const k of Object.keys(map)) if (!keep.has(k)) delete map[k];
        return null;
      };
    },
  },
  merge_maps: {
    params: ['target', 'source', 'strategy'],
    required: 3,
    compile: ([target, source, strategy], t) => {
      const p = t.target(target!);
      const src = t.value(source!);
      const how = t.literal(strategy!, 'the strategy');
      if (!STRATEGIES.includes(how)) throw new OttlError(`merge_maps strategy must be one of ${STRATEGIES.join(', ')}, not "${how}"`, strategy!.at);
      return (c) => {
        const s = src(c);
        const map = mapOf(p.get(c), p.text);
        const from = mapOf(s, 'the source of merge_maps');
        for (const [k, v] of Object.entries(from)) {
          const has = Object.prototype.hasOwnProperty.call(map, k);
          if ((how === 'insert' && !has) || (how === 'update' && has) || how === 'upsert') put(map, k, toStored(v));
        }
        return null;
      };
    },
  },
};
