import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Component, ExtensionFactory } from '../../core/component.js';
import { list, obj, path, secret, str, type Config } from '../../config/fragments.js';
import { AuthError, type ClientAuthenticator, type RequestHeaders, type ServerAuthenticator } from '../../helpers/auth.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * As the Collector's bearertokenauth extension: a server checks `<header>: <scheme> <token>`
 * against the configured token(s); a client sends it.
 */
export function createBearerTokenAuth(cfg: BearerTokenAuthConfig, configDir: string): Component & ServerAuthenticator & ClientAuthenticator {
  const header = cfg.header.toLowerCase();
  const tokens = (): string[] => {
    if (cfg.filename) {
      const p = isAbsolute(cfg.filename) ? cfg.filename : resolve(configDir, cfg.filename);
      return [readFileSync(p, 'utf8').trim()];
    }
    return [...(cfg.token ? [cfg.token] : []), ...(cfg.tokens ?? [])];
  };
  const prefix = cfg.scheme ? `${cfg.scheme} ` : '';
  return {
    async start() {
      if (tokens().length === 0) throw new Error('bearertokenauth: set token, tokens or filename');
    },
    async shutdown() {},
    async authenticate(headers: RequestHeaders) {
      const raw = headers[header];
      const v = Array.isArray(raw) ? raw[0] : raw;
      if (!v) throw new AuthError(`missing ${cfg.header} header`);
      if (prefix && !v.startsWith(prefix)) throw new AuthError(`${cfg.header} header must use the ${cfg.scheme} scheme`);
      const got = v.slice(prefix.length);
      if (!tokens().some((t) => same(t, got))) throw new AuthError('invalid token');
    },
    async headers() {
      return { [header]: `${prefix}${tokens()[0] ?? ''}` };
    },
  };
}

const schema = obj({
  header: str('Authorization', 'Header carrying the token.'),
  scheme: str('Bearer', 'Scheme before the token; empty for none.'),
  token: secret('The token.'),
  tokens: list(secret('An accepted token.'), undefined, 'Several accepted tokens (server); each is a secret.'),
  filename: path(undefined, 'File holding the token; read on each request, so it can be rotated.'),
});

export type BearerTokenAuthConfig = Config<typeof schema>;

export const factory: ExtensionFactory<BearerTokenAuthConfig> = {
  kind: 'extension',
  type: 'bearertokenauth',
  stability: 'beta',
  description: 'Bearer token authentication for servers (receivers) and clients (exporters), as the Collector\'s extension.',
  schema,
  validate: (c) => (c.token || c.tokens?.length || c.filename ? [] : [{ message: 'set token, tokens or filename' }]),
  create: (s) => createBearerTokenAuth(s.config, s.configDir),
};
