import { Ajv, type ErrorObject, type FuncKeywordDefinition, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ConfigSchema } from '../core/component.js';
import { nullBlocksToEmpty } from './annotations.js';
import { parseHostPort } from '../helpers/net.js';
import { parseBytes, parseDuration } from './units.js';

// ajv-formats is CommonJS with a default export.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => void;

function unitKeyword(keyword: string, parse: (v: string | number) => number): FuncKeywordDefinition {
  return {
    keyword,
    modifying: true,
    schemaType: 'boolean',
    errors: true,
    validate: function validateUnit(_schema: unknown, data: unknown, _parent: unknown, cxt?: { parentData: Record<string | number, unknown>; parentDataProperty: string | number }): boolean {
      const self = validateUnit as unknown as { errors?: Partial<ErrorObject>[] };
      if (typeof data !== 'string' && typeof data !== 'number') return true;
      try {
        const n = parse(data);
        if (cxt) cxt.parentData[cxt.parentDataProperty] = n;
        return true;
      } catch (err) {
        self.errors = [{ keyword, message: (err as Error).message, params: {} }];
        return false;
      }
    },
  };
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
ajv.addKeyword(unitKeyword('x-duration', parseDuration));
ajv.addKeyword(unitKeyword('x-bytes', parseBytes));
for (const keyword of ['x-secret', 'x-path']) ajv.addKeyword({ keyword, schemaType: 'boolean' });
ajv.addKeyword({
  keyword: 'x-address',
  schemaType: 'boolean',
  errors: true,
  validate: function validateAddress(_schema: unknown, data: unknown): boolean {
    const problem = typeof data === 'string' && data !== '' ? addressProblem(data) : undefined;
    if (problem) (validateAddress as unknown as { errors?: Partial<ErrorObject>[] }).errors = [{ keyword: 'x-address', message: problem, params: {} }];
    return problem === undefined;
  },
});

/**
 * Why an address would fail when the component starts: a URL that does not parse (a port past
 * 65535, a broken host) or a host:port whose port is not a port. The value is never echoed: a
 * URL may carry a password.
 */
export function addressProblem(s: string): string | undefined {
  if (s.includes('://')) {
    try {
      new URL(s);
      return undefined;
    } catch {
      return 'is not a valid URL (scheme://host[:port][/path], port at most 65535)';
    }
  }
  const hp = parseHostPort(s, 0);
  if (!hp || hp.port > 65535) return 'is not a valid address (host:port, [v6]:port, host or :port, port at most 65535)';
  return undefined;
}

const cache = new WeakMap<ConfigSchema, ValidateFunction>();

export interface SchemaProblem {
  /** Path inside the validated value. */
  path: (string | number)[];
  /** True when the problem is about a key (an unknown key), not a value. */
  atKey: boolean;
  message: string;
}

/** Validate in place (defaults are filled, durations and sizes converted) and return every problem. */
export function validateAgainst(schema: ConfigSchema, value: unknown): SchemaProblem[] {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema) as ValidateFunction;
    cache.set(schema, fn);
  }
  nullBlocksToEmpty(schema, value);
  if (fn(value)) return [];
  return dedupe((fn.errors ?? []).map(toProblem));
}

function toProblem(e: ErrorObject): SchemaProblem {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], atKey: true, message: `unknown key "${String(p.additionalProperty)}"` };
    case 'required':
      return { path, atKey: false, message: `missing required key "${String(p.missingProperty)}"` };
    case 'minProperties':
      return { path, atKey: false, message: `${describe(path)} must have at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}` };
    case 'type':
      return { path, atKey: false, message: `${describe(path)} must be ${String(p.type).replace(',', ' or ')}` };
    case 'enum':
      return { path, atKey: false, message: `${describe(path)} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    default:
      return { path, atKey: false, message: `${describe(path)} ${e.message ?? 'is invalid'}` };
  }
}

function describe(path: (string | number)[]): string {
  return path.length ? `"${path.join('.')}"` : 'the value';
}

function dedupe(ps: SchemaProblem[]): SchemaProblem[] {
  const seen = new Set<string>();
  // anyOf/oneOf branches produce noise; keep each message once per path.
  return ps.filter((p) => {
    const k = `${p.path.join('.')}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
