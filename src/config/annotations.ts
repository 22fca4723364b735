import { isAbsolute, resolve } from 'node:path';
import type { ConfigSchema, JSONSchema } from '../core/component.js';
import { isPlainObject } from './source.js';

/**
 * Walks a config value alongside its schema and acts on rrpipe's schema keywords:
 * `x-path` (resolve relative paths), `x-secret` (mask), `x-address`. Kept in one place so every
 * component gets the same rule without reading paths or secrets itself.
 */

type Path = (string | number)[];
type S = JSONSchema & {
  properties?: Record<string, S>;
  additionalProperties?: S | boolean;
  items?: S;
  anyOf?: S[];
  oneOf?: S[];
  type?: string | string[];
};

function isObjectSchema(s: S): boolean {
  return s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object')) || !!s.properties;
}

/** Call `visit` for every value (present in `value`) with the schema that describes it. */
export function walkWithSchema(schema: ConfigSchema, value: unknown, visit: (s: S, v: unknown, path: Path, parent: Record<string, unknown> | unknown[], key: string | number) => void, path: Path = []): void {
  const s = schema as unknown as S;
  for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) walkWithSchema(alt, value, visit, path);
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const child = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (!child) continue;
      visit(child, v, [...path, k], value, k);
      walkWithSchema(child, v, visit, [...path, k]);
    }
  } else if (Array.isArray(value) && s.items && typeof s.items === 'object') {
    value.forEach((v, i) => {
      visit(s.items!, v, [...path, i], value, i);
      walkWithSchema(s.items!, v, visit, [...path, i]);
    });
  }
}

/** The schema that describes `path` inside a value of `schema`, if the schema declares it. */
export function schemaAt(schema: ConfigSchema, path: readonly (string | number)[]): JSONSchema | undefined {
  let s: S | undefined = schema as unknown as S;
  for (const seg of path) {
    if (!s) return undefined;
    if (typeof seg === 'number') s = typeof s.items === 'object' ? s.items : undefined;
    else {
      const next: S | undefined = s.properties?.[seg] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      s = next ?? [...(s.anyOf ?? []), ...(s.oneOf ?? [])].map((a) => schemaAt(a, [seg]) as S | undefined).find(Boolean);
    }
  }
  return s;
}

/**
 * `grpc:` written with nothing under it is null in YAML; where the schema wants an object, make
 * it `{}` so its defaults apply (the Collector treats an empty block as "on, with defaults").
 */
export function nullBlocksToEmpty(schema: ConfigSchema, value: unknown): void {
  walkWithSchema(schema, value, (s, v, _p, parent, key) => {
    if (v === null && isObjectSchema(s) && !(Array.isArray(s.type) && s.type.includes('null'))) {
      (parent as Record<string | number, unknown>)[key] = {};
    }
  });
}

/**
 * One rule for relative paths: every path setting (a key marked x-path) is relative to the
 * working directory of the rrpipe process, as in the OpenTelemetry Collector (which hands paths
 * to the OS unchanged; see open-telemetry/opentelemetry-collector#7175). The loader makes them
 * absolute once, so components never resolve paths themselves. Only the config's own includes,
 * `plugins:` and `${file:…}`, are relative to the file that names them.
 */
export function resolvePaths(schema: ConfigSchema, value: unknown, cwd = process.cwd()): void {
  walkWithSchema(schema, value, (s, v, _p, parent, key) => {
    if (s['x-path'] !== true || typeof v !== 'string' || v === '' || v === ':memory:' || isAbsolute(v)) return;
    (parent as Record<string | number, unknown>)[key] = resolve(cwd, v);
  });
}

export const MASK = '[REDACTED]';

/** Every secret value (strings under x-secret keys, and every value of an x-secret map). */
export function secretValues(schema: ConfigSchema, value: unknown, out: Set<string> = new Set()): Set<string> {
  walkWithSchema(schema, value, (s, v) => {
    if (s['x-secret'] !== true) return;
    if (typeof v === 'string' && v !== '') out.add(v);
    else if (isPlainObject(v)) for (const x of Object.values(v)) if (typeof x === 'string' && x !== '') out.add(x);
  });
  return out;
}

/** A copy with every x-secret value (and every value of an x-secret map) replaced by [REDACTED]. */
export function maskBySchema(schema: ConfigSchema, value: unknown): unknown {
  const copy = structuredClone(value);
  walkWithSchema(schema, copy, (s, v, _p, parent, key) => {
    if (s['x-secret'] !== true) return;
    const p = parent as Record<string | number, unknown>;
    if (typeof v === 'string' && v !== '') p[key] = MASK;
    else if (isPlainObject(v)) p[key] = Object.fromEntries(Object.keys(v).map((k) => [k, MASK]));
  });
  return copy;
}
