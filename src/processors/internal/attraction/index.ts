import { createHash } from 'node:crypto';
import type { ConfigProblem } from '../../../core/component.js';
import { obj, oneOf, raw, str, type Config } from '../../../config/fragments.js';
import type { Context } from '../../../core/record.js';
import { compileRegex, regexProblem, type Regex } from '../../../ottl/index.js';
import { asString, isNil, parseFloatStrict, parseIntStrict } from '../../../ottl/values.js';

/**
 * The OTel attribute actions (contrib internal/coreinternal/attraction), shared by the
 * attributes processor (log attributes) and the resource processor (resource attributes).
 */

export type ActionName = 'insert' | 'update' | 'upsert' | 'delete' | 'hash' | 'extract' | 'convert';
const ACTIONS: readonly ActionName[] = ['insert', 'update', 'upsert', 'delete', 'hash', 'extract', 'convert'];

const anyValue = (description: string) => raw<unknown>({ type: ['string', 'number', 'boolean', 'object', 'array'], description });

export function actionSchema() {
  return obj({
    key: str(undefined, 'The attribute to act on (insert, update, upsert, delete, hash, extract, convert).'),
    action: str(undefined, 'insert, update, upsert, delete, hash, extract or convert (any case).'),
    value: anyValue('insert/update/upsert: the value (its YAML type is kept).'),
    from_attribute: str(undefined, 'insert/update/upsert: copy the value of this attribute.'),
    from_context: str(undefined, 'insert/update/upsert: a request metadata value (receiver include_metadata), `metadata.<name>` or `<name>`; several values are joined with ";".'),
    default_value: anyValue('insert/update/upsert: the value when value/from_attribute/from_context give none.'),
    pattern: str(undefined, 'delete/hash: a regex (RE2) over attribute names; extract: a regex with named groups over the value of key.'),
    converted_type: oneOf(['int', 'double', 'string'], undefined, 'convert: the target type.'),
  }, { required: ['action'] });
}

export type ActionConfig = Config<ReturnType<typeof actionSchema>>;

/** The checks OTel's NewAttrProc makes, as config problems (path relative to the actions list). */
export function validateActions(actions: ActionConfig[], base: (string | number)[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  actions.forEach((a, i) => {
    const at = (k?: string) => (k ? [...base, i, k] : [...base, i]);
    const action = a.action.toLowerCase() as ActionName;
    if (!ACTIONS.includes(action)) {
      problems.push({ path: at('action'), message: `unsupported action "${a.action}" (one of ${ACTIONS.join(', ')})` });
      return;
    }
    const sources = [a.value, a.from_attribute, a.from_context].filter((x) => x !== undefined && x !== '').length;
    if ((action === 'delete' || action === 'hash') && !a.key && !a.pattern) problems.push({ path: at(), message: `action "${action}" needs "key" and/or "pattern"` });
    if (action !== 'delete' && action !== 'hash' && !a.key) problems.push({ path: at(), message: 'missing required key "key"' });
    switch (action) {
      case 'insert':
      case 'update':
      case 'upsert':
        if (sources === 0 && a.default_value === undefined) problems.push({ path: at(), message: `action "${action}" needs one of "value", "from_attribute", "from_context" or "default_value"` });
        if (sources > 1) problems.push({ path: at(), message: 'give only one of "value", "from_attribute", "from_context"' });
        if (a.pattern !== undefined) problems.push({ path: at('pattern'), message: `action "${action}" does not use "pattern"` });
        if (a.converted_type !== undefined) problems.push({ path: at('converted_type'), message: `action "${action}" does not use "converted_type"` });
        break;
      case 'delete':
      case 'hash':
        if (a.value !== undefined || a.from_attribute !== undefined) problems.push({ path: at(), message: `action "${action}" does not use "value" or "from_attribute"` });
        if (a.converted_type !== undefined) problems.push({ path: at('converted_type'), message: `action "${action}" does not use "converted_type"` });
        break;
      case 'extract': {
        if (sources > 0) problems.push({ path: at(), message: 'action "extract" does not use a value source' });
        if (!a.pattern) {
          problems.push({ path: at(), message: 'action "extract" needs "pattern"' });
          break;
        }
        if (a.converted_type !== undefined) problems.push({ path: at('converted_type'), message: 'action "extract" does not use "converted_type"' });
        const bad = regexProblem(a.pattern);
        if (bad) break;
        const names = compileRegex(a.pattern).groupNames;
        if (names.length === 0) problems.push({ path: at('pattern'), message: 'the pattern has no named groups (?P<name>…)' });
        else if (names.some((n) => n === '')) problems.push({ path: at('pattern'), message: 'every group of the pattern must be named (?P<name>…)' });
        break;
      }
      case 'convert':
        if (sources > 0 || a.pattern !== undefined) problems.push({ path: at(), message: 'action "convert" does not use value sources or "pattern"' });
        if (!a.converted_type) problems.push({ path: at(), message: 'action "convert" needs "converted_type" (int, double or string)' });
        break;
    }
    if (a.pattern !== undefined) {
      const bad = regexProblem(a.pattern);
      if (bad) problems.push({ path: at('pattern'), message: `invalid regex (RE2 syntax): ${bad}` });
    }
  });
  return problems;
}

type Attrs = Record<string, unknown>;
export type AttrAction = (attrs: Attrs, ctx: Context) => void;

/** SHA-256 (current OTel; SHA-1 before the coreinternal.attraction.hash.sha256 gate) over the value's bytes, hex. */
export function hashValue(v: unknown): string {
  let bytes: Buffer;
  if (typeof v === 'string') bytes = Buffer.from(v, 'utf8');
  else if (typeof v === 'boolean') bytes = Buffer.from([v ? 1 : 0]);
  else if (typeof v === 'number' && Number.isInteger(v) && Number.isSafeInteger(v)) {
    bytes = Buffer.alloc(8);
    bytes.writeBigInt64LE(BigInt(v));
  } else if (typeof v === 'number') {
    bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(v);
  } else return '';
  return createHash('sha256').update(bytes).digest('hex');
}

/** pcommon.Value conversion as OTel's convert action does it; a value that cannot be converted stays as it is. */
export function convertValue(v: unknown, to: string): unknown {
  switch (to) {
    case 'string':
      return typeof v === 'string' ? v : (asString(v) ?? v);
    case 'int':
      if (typeof v === 'number') return Math.trunc(v);
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        const n = parseIntStrict(v);
        return n === undefined ? v : Number(n);
      }
      return v;
    case 'double':
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') return parseFloatStrict(v) ?? v;
      return v;
    default:
      return v;
  }
}

function fromContext(key: string, ctx: Context): string | undefined {
  const name = (key.startsWith('metadata.') ? key.slice(9) : key).toLowerCase();
  const md = ctx.metadata;
  if (!md || key.startsWith('auth.') || key === 'client.address') return undefined;
  for (const [k, vals] of md) if (k.toLowerCase() === name && vals.length) return vals.join(';');
  return undefined;
}

function matchingKeys(re: Regex | undefined, attrs: Attrs): string[] {
  return re ? Object.keys(attrs).filter((k) => re.test(k)) : [];
}

/** Compile validated actions into one function over an attribute map (run in the configured order). */
export function compileActions(actions: ActionConfig[]): AttrAction {
  const steps: AttrAction[] = actions.map((a) => {
    const action = a.action.toLowerCase() as ActionName;
    const key = a.key ?? '';
    const re = a.pattern ? compileRegex(a.pattern) : undefined;
    const has = (attrs: Attrs, k: string) => Object.prototype.hasOwnProperty.call(attrs, k);
    switch (action) {
      case 'insert':
      case 'update':
      case 'upsert': {
        const source = (attrs: Attrs, ctx: Context): unknown => {
          let v: unknown;
          if (a.value !== undefined) v = a.value;
          else if (a.from_context) v = fromContext(a.from_context, ctx);
          else if (a.from_attribute) v = has(attrs, a.from_attribute) ? attrs[a.from_attribute] : undefined;
          return v === undefined ? a.default_value : v;
        };
        return (attrs, ctx) => {
          const v = source(attrs, ctx);
          if (v === undefined) return;
          const exists = has(attrs, key);
          if ((action === 'insert' && exists) || (action === 'update' && !exists)) return;
          attrs[key] = typeof v === 'object' && v !== null ? structuredClone(v) : v;
        };
      }
      case 'delete':
        return (attrs) => {
          delete attrs[key];
          for (const k of matchingKeys(re, attrs)) delete attrs[k];
        };
      case 'hash':
        return (attrs) => {
          if (key && has(attrs, key)) attrs[key] = hashValue(attrs[key]);
          for (const k of matchingKeys(re, attrs)) attrs[k] = hashValue(attrs[k]);
        };
      case 'extract':
        return (attrs) => {
          const v = attrs[key];
          if (typeof v !== 'string') return;
          const groups = re!.namedGroups(v);
          if (groups) Object.assign(attrs, groups);
        };
      case 'convert':
        return (attrs) => {
          if (has(attrs, key) && !isNil(attrs[key])) attrs[key] = convertValue(attrs[key], a.converted_type!);
        };
    }
  });
  return (attrs, ctx) => {
    for (const s of steps) s(attrs, ctx);
  };
}
