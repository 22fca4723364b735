import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface ExpandContext {
  env: NodeJS.ProcessEnv;
  /** Base directory for relative ${file:...} paths. */
  baseDir: string;
  warnings: string[];
  /** Unset variables met while expanding (name and reference); the loader decides warning or error by the key's schema. */
  unset?: { name: string; ref: string }[];
}

const REF = /\$\$|\$\{([^}]*)\}/g;

/**
 * Expand ${env:NAME}, ${env:NAME:-default}, ${file:path} and ${NAME} in a scalar string, as the
 * OpenTelemetry Collector does. `$$` is a literal `$`. When the whole scalar is one reference,
 * the result is typed as YAML would type it (so `port: ${env:PORT}` is a number).
 */
export function expandScalar(raw: string, ctx: ExpandContext, typed: boolean): unknown {
  const whole = /^\$\{([^}]*)\}$/.exec(raw);
  if (whole && typed) {
    const value = resolveRef(whole[1]!, ctx);
    return typeValue(value);
  }
  if (!raw.includes('$')) return raw;
  return raw.replace(REF, (m, ref: string | undefined) => (m === '$$' ? '$' : resolveRef(ref ?? '', ctx)));
}

function resolveRef(ref: string, ctx: ExpandContext): string {
  const colon = ref.indexOf(':');
  const scheme = colon > 0 && /^[a-z]+$/.test(ref.slice(0, colon)) ? ref.slice(0, colon) : 'env';
  const rest = colon > 0 && scheme !== 'env' || ref.startsWith('env:') ? ref.slice(colon + 1) : ref;
  if (scheme === 'env') {
    const dflt = rest.indexOf(':-');
    const name = dflt >= 0 ? rest.slice(0, dflt) : rest;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ExpandError(`invalid environment variable name "${name}" in \${${ref}}`);
    const v = ctx.env[name];
    if (v !== undefined && v !== '') return v;
    if (dflt >= 0) return rest.slice(dflt + 2);
    if (ctx.unset) ctx.unset.push({ name, ref });
    else ctx.warnings.push(`environment variable ${name} is not set; \${${ref}} expands to an empty string`);
    return '';
  }
  if (scheme === 'file') {
    const path = isAbsolute(rest) ? rest : resolve(ctx.baseDir, rest);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ExpandError(`cannot read \${file:${rest}}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  throw new ExpandError(`unknown expansion scheme "${scheme}" in \${${ref}} (use env or file)`);
}

function typeValue(s: string): unknown {
  if (s === '') return '';
  try {
    const v = parseYaml(s);
    return v === null || typeof v === 'object' ? s : v;
  } catch {
    return s;
  }
}

export class ExpandError extends Error {
  override name = 'ExpandError';
}
