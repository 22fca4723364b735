import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { maskBySchema } from '../../config/annotations.js';
import { ConfigError, loadConfig, type ResolvedConfig } from '../../config/load.js';
import { topLevelSchema } from '../../config/service-schema.js';
import { builtinRegistry } from '../../components.js';
import { defaultConfigPath, type CliCommand } from '../command.js';

const SECRET_KEY = /(password|passwd|secret|token|api_?key|access_?key|account_?key|connection_string|^key$|_key$|credentials?)$/i;
const NOT_SECRET = /(_file|_path|_id|_name|key_prefix|sort_key)$/i;

/**
 * The resolved document with secrets masked: every key the schemas mark `x-secret` (header maps
 * included), and, for plugins whose schemas do not mark them, every secret-looking key name.
 */
export function maskResolved(cfg: ResolvedConfig): unknown {
  const doc = maskBySchema(topLevelSchema, cfg.resolved) as Record<string, Record<string, unknown> | undefined>;
  for (const [section, map] of Object.entries(cfg.components)) {
    const body = doc[section];
    if (!body) continue;
    for (const c of map.values()) body[c.id] = maskBySchema(c.factory.schema, body[c.id]);
  }
  return maskSecrets(doc);
}

/**
 * A copy with every value under a secret-looking key replaced by "[REDACTED]" (a switch such as
 * `detectors.private_key: true` is not a secret and stays readable), and the password of every
 * URL (`redis://:pw@host`, `http://user:pw@host`) masked wherever it appears.
 */
export function maskSecrets(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => maskSecrets(x, key));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskSecrets(x, k)]));
  }
  if (typeof v === 'boolean') return v;
  if (key && SECRET_KEY.test(key) && !NOT_SECRET.test(key) && v !== '' && v !== null && v !== undefined) return '[REDACTED]';
  return typeof v === 'string' ? maskUrlPassword(v) : v;
}

/** `scheme://user:password@` anywhere in a value: the password replaced, the user kept. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#]*@/gi;

export function maskUrlPassword(s: string): string {
  return s.includes('@') ? s.replace(URL_PASSWORD, '$1:[REDACTED]@') : s;
}

export const printConfig: CliCommand = {
  name: 'print-config',
  summary: 'print the resolved config (env expanded, defaults applied) with secrets masked',
  usage: 'rrpipe print-config -c FILE [-c FILE]... [--json]',
  async run(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', multiple: true }, json: { type: 'boolean' } } });
    const files = values.config?.length ? values.config : [defaultConfigPath()];
    try {
      const cfg = await loadConfig(files, { registry: await builtinRegistry({ lazy: true }) });
      const masked = maskResolved(cfg);
      process.stdout.write(values.json ? JSON.stringify(masked, null, 2) + '\n' : stringify(masked));
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        return 1;
      }
      throw err;
    }
  },
};
