import type { RRRecord } from '../core/record.js';
import { tsNanos } from '../rrpair/otlp.js';
import type { PathNode } from './ast.js';
import { OttlError, OttlRuntimeError } from './errors.js';
import { isMap, isNil, put, toStored, typeName, type Value } from './values.js';

/**
 * How an rrpipe record reads as an OTel log record (the OTTL "log" context), matching the OTLP
 * mapping in src/rrpair/otlp.ts:
 *
 * | OTTL path | rrpipe record |
 * |---|---|
 * | `body`, `body["k"]…` | the RRPair object (`record.rrpair`); the forwarder sends it as a kvlist body |
 * | `attributes`, `attributes["k"]…` | `record.attributes` (OTLP log attributes: service, namespace, …) |
 * | `resource.attributes`, `resource.attributes["k"]…` | `record.resource` (OTLP resource attributes: cluster, …) |
 * | `time_unix_nano` | the RRPair's `ts` in ns (what rrpipe writes as the LogRecord time) |
 * | `observed_time_unix_nano` | when rrpipe received the record |
 * | `severity_number`, `severity_text`, `flags`, `dropped_attributes_count`, `event_name` | not carried by rrpipe records: read as OTel's zero values (0, ""), cannot be set |
 * | `cache`, `cache["k"]` | a map private to one record's evaluation (as in the transform processor) |
 *
 * Paths may carry the context name first (`log.body`, `log.attributes`), as newer OTTL writes them.
 */

export type ContextName = 'log' | 'resource';

/** What compiled expressions evaluate against. */
export interface EvalCtx {
  record: RRRecord;
  cache: Record<string, unknown>;
}

export type Getter = (c: EvalCtx) => Value;
export type Setter = (c: EvalCtx, v: Value) => void;

export interface CompiledPath {
  get: Getter;
  /** Undefined for read-only paths. */
  set?: Setter;
  /** Human name, for messages. */
  text: string;
}

export type KeyGetter = (c: EvalCtx) => string | bigint;

/** Read through map keys and list indexes as OTTL does: a missing map key gives nil, a scalar cannot be indexed. */
export function walkGet(root: Value, keys: KeyGetter[], c: EvalCtx): Value {
  let cur = root;
  for (const kg of keys) {
    if (isNil(cur)) return null;
    const k = kg(c);
    if (Array.isArray(cur)) {
      if (typeof k !== 'bigint') throw new OttlRuntimeError(`a slice is indexed by an int, not the string "${k}"`);
      const i = Number(k);
      if (i < 0 || i >= cur.length) throw new OttlRuntimeError(`index ${i} out of bounds (slice of ${cur.length})`);
      cur = cur[i];
    } else if (isMap(cur)) {
      if (typeof k !== 'string') throw new OttlRuntimeError(`a map is indexed by a string, not the int ${k}`);
      if (!Object.prototype.hasOwnProperty.call(cur, k)) return null;
      cur = cur[k];
    } else {
      throw new OttlRuntimeError(`type ${typeName(cur)} does not support indexing`);
    }
  }
  return cur;
}

/** Write through keys, creating maps for missing keys (as OTTL's setters do). */
export function walkSet(root: Record<string, unknown>, keys: KeyGetter[], c: EvalCtx, v: Value, store: (v: Value) => unknown = toStored): void {
  let cur: unknown = root;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!(c);
    const last = i === keys.length - 1;
    if (Array.isArray(cur)) {
      if (typeof k !== 'bigint') throw new OttlRuntimeError(`a slice is indexed by an int, not the string "${k}"`);
      const idx = Number(k);
      if (idx < 0 || idx >= cur.length) throw new OttlRuntimeError(`index ${idx} out of bounds (slice of ${cur.length})`);
      if (last) cur[idx] = store(v);
      else {
        if (isNil(cur[idx])) cur[idx] = {};
        cur = cur[idx];
      }
    } else if (isMap(cur)) {
      if (typeof k !== 'string') throw new OttlRuntimeError(`a map is indexed by a string, not the int ${k}`);
      if (last) put(cur, k, store(v));
      else {
        const own = Object.prototype.hasOwnProperty.call(cur, k);
        if (!own || isNil(cur[k])) put(cur, k, {});
        cur = cur[k];
      }
    } else {
      throw new OttlRuntimeError(`type ${typeName(cur)} does not support indexing`);
    }
  }
}

function mapPath(text: string, root: (c: EvalCtx) => Record<string, unknown>, replace: (c: EvalCtx, m: Record<string, unknown>) => void, keys: KeyGetter[], what: string, store: (v: Value) => unknown = toStored): CompiledPath {
  if (keys.length === 0) {
    return {
      text,
      get: root,
      set: (c, v) => {
        if (isNil(v)) return;
        if (!isMap(v)) throw new OttlRuntimeError(`${what} can only be set to a map, not ${typeName(v)}`);
        replace(c, store(v) as Record<string, unknown>);
      },
    };
  }
  return {
    text,
    get: (c) => walkGet(root(c), keys, c),
    set: (c, v) => walkSet(root(c), keys, c, v, store),
  };
}

const ZERO_FIELDS: Record<string, Value> = {
  severity_number: 0n,
  severity_text: '',
  flags: 0n,
  dropped_attributes_count: 0n,
  event_name: '',
};

function isoFromNanos(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${frac}Z`;
}

function intArg(v: Value, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new OttlRuntimeError(`${what} must be set to an int, not ${typeName(v)}`);
}

/** Resolve a path of the given context to a getter (and a setter when it can be written). */
export function compilePath(p: PathNode, ctxName: ContextName, keys: KeyGetter[]): CompiledPath {
  let names = p.names.map((n) => n.name);
  const text = p.names.map((n) => n.name).join('.');
  if (names[0] === ctxName && names.length > 1) names = names.slice(1);
  else if (ctxName === 'resource' && names[0] === 'log') throw new OttlError('a resource statement cannot read log fields', p.at);
  const joined = names.join('.');
  const resourceAttrs = (c: EvalCtx) => c.record.resource as Record<string, unknown>;
  const setResource = (c: EvalCtx, m: Record<string, unknown>) => {
    c.record.resource = m as RRRecord['resource'];
  };
  if (joined === 'cache') {
    // The cache lives for one evaluation: values keep their OTTL types (int64 stays bigint).
    return mapPath(text, (c) => c.cache, (c, m) => {
      c.cache = m;
    }, keys, 'cache', (v) => (typeof v === 'object' && v !== null ? structuredClone(v) : v));
  }
  if (ctxName === 'resource') {
    if (joined === 'attributes') return mapPath(text, resourceAttrs, setResource, keys, 'resource.attributes');
    if (joined === 'dropped_attributes_count' && keys.length === 0) return { text, get: () => 0n };
    throw unknownPath(p, ['attributes', 'attributes["key"]', 'dropped_attributes_count', 'cache']);
  }
  switch (joined) {
    case 'body':
      return mapPath(text, (c) => c.record.rrpair as Record<string, unknown>, (c, m) => {
        c.record.rrpair = m;
      }, keys, 'body (an RRPair)');
    case 'attributes':
      return mapPath(text, (c) => c.record.attributes as Record<string, unknown>, (c, m) => {
        c.record.attributes = m as RRRecord['attributes'];
      }, keys, 'attributes');
    case 'resource.attributes':
      return mapPath(text, resourceAttrs, setResource, keys, 'resource.attributes');
    case 'resource.dropped_attributes_count':
      return { text, get: () => 0n };
    case 'time_unix_nano':
      return {
        text,
        get: (c) => {
          const t = tsNanos(c.record.rrpair.ts);
          return t === undefined ? 0n : BigInt(t);
        },
        set: (c, v) => {
          if (isNil(v)) return;
          c.record.rrpair.ts = isoFromNanos(intArg(v, 'time_unix_nano'));
        },
      };
    case 'observed_time_unix_nano':
      return {
        text,
        get: (c) => c.record.observedNs,
        set: (c, v) => {
          if (isNil(v)) return;
          c.record.observedNs = intArg(v, 'observed_time_unix_nano');
        },
      };
    default:
      break;
  }
  if (joined in ZERO_FIELDS && keys.length === 0) {
    const zero = ZERO_FIELDS[joined];
    return { text, get: () => zero };
  }
  throw unknownPath(p, ['body', 'body["key"]…', 'attributes', 'attributes["key"]', 'resource.attributes', 'resource.attributes["key"]', 'time_unix_nano', 'observed_time_unix_nano', 'severity_number', 'severity_text', 'flags', 'cache']);
}

function unknownPath(p: PathNode, known: string[]): OttlError {
  const text = p.names.map((n) => n.name).join('.');
  return new OttlError(`unknown path "${text}"${p.keys.length ? ' with keys' : ''} (rrpipe supports ${known.join(', ')})`, p.at);
}

/** Enum names of the log context (logs proto), as int64. */
export const LOG_ENUMS: Record<string, bigint> = (() => {
  const out: Record<string, bigint> = { SEVERITY_NUMBER_UNSPECIFIED: 0n };
  const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  levels.forEach((l, i) => {
    for (let j = 1; j <= 4; j++) out[`SEVERITY_NUMBER_${l}${j === 1 ? '' : j}`] = BigInt(i * 4 + j);
  });
  return out;
})();
