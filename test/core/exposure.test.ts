import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { isLoopback } from '../../src/config/exposure.js';
import { CONFIG_ENV } from '../deploy/support.js';

const CONFIGS = resolve(__dirname, '../../configs');
// Every ${env:…} the shipped configs need without a default, as the npm-pack test sets them.
const ENV = CONFIG_ENV;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
}

describe('admin endpoints are not exposed without authentication by accident', () => {
  it('no shipped config serves the query API beyond loopback without a bearer token', async () => {
    const registry = await builtinRegistry();
    let seen = 0;
    for (const f of files(CONFIGS)) {
      const cfg = await loadConfig([f], { registry, env: ENV });
      for (const c of cfg.components.extensions.values()) {
        if (c.type !== 'query_api') continue;
        seen++;
        expect(isLoopback(String(c.config.endpoint)) || !!c.config.bearer_token, `${f}: ${c.config.endpoint}`).toBe(true);
      }
    }
    expect(seen).toBeGreaterThanOrEqual(3);
  });

  it('a query API on 0.0.0.0 without a token is a config error; with one it is accepted', async () => {
    const registry = await builtinRegistry();
    const aws = join(CONFIGS, 'aws.yaml');
    const err = await loadConfig([aws], { registry, env: { ...ENV, RRPIPE_QUERY_ENDPOINT: '0.0.0.0:8088' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/query_api.*beyond loopback, without bearer_token/);
    const ok = await loadConfig([aws], { registry, env: { ...ENV, RRPIPE_QUERY_ENDPOINT: '0.0.0.0:8088', RRPIPE_QUERY_TOKEN: 'tok' } });
    expect(ok.warnings.some((w) => /query_api/.test(w))).toBe(false);
  });

  it('validate warns about health and metrics beyond loopback, not about loopback ones', async () => {
    const registry = await builtinRegistry();
    const cfg = await loadConfig([join(CONFIGS, 'daemonset.yaml')], { registry, env: ENV });
    expect(cfg.warnings.some((w) => /extensions\.health_check: listens on 0\.0\.0\.0:13133, beyond loopback, without authentication/.test(w))).toBe(true);
    expect(cfg.warnings.some((w) => /service\.telemetry\.metrics: listens on 0\.0\.0\.0:8888/.test(w))).toBe(true);
    const local = await loadConfig([join(CONFIGS, 'default.yaml')], { registry, env: {} });
    expect(local.warnings.filter((w) => /beyond loopback/.test(w))).toEqual([]);
  });

  it('isLoopback', () => {
    for (const e of ['localhost:1', '127.0.0.1:8088', '[::1]:80', '127.1.2.3:9']) expect(isLoopback(e), e).toBe(true);
    for (const e of ['0.0.0.0:1', ':8088', '[::]:80', '10.0.0.1:8', 'example.com:80', '8088']) expect(isLoopback(e), e).toBe(false);
  });
});

describe('shipped capture configs redact by default', () => {
  it('every pipeline fed by nettap runs redaction before its exporters', async () => {
    const registry = await builtinRegistry();
    let checked = 0;
    for (const f of files(CONFIGS)) {
      const cfg = await loadConfig([f], { registry, env: ENV });
      for (const p of cfg.pipelines.values()) {
        const capture = p.receivers.some((r) => cfg.components.receivers.get(r)?.type === 'nettap');
        if (!capture) continue;
        checked++;
        expect(p.processors.some((id) => cfg.components.processors.get(id)?.type === 'redaction'), `${f}: ${p.id}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });
});
