import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { builtinRegistry } from '../../src/components.js';
import { maskResolved } from '../../src/cli/commands/print-config.js';
import { ConfigError, loadConfig, type ResolvedConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logger.js';
import { Writable } from 'node:stream';

const NAME = 'cfg/test.yaml';

async function load(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<ResolvedConfig> {
  return loadConfig([NAME], { registry: await builtinRegistry(), texts: { [NAME]: yaml }, env });
}

async function errorsOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await load(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

const PIPE = `
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [debug] }
`;

describe('the schema is the one description of a config', () => {
  it('a config without service: is an error with its position', async () => {
    const errs = await errorsOf(`receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug:\n`);
    expect(errs).toEqual([expect.stringMatching(/^cfg\/test\.yaml:1:1: missing required key "service"$/)]);
  });

  it('a service with no pipelines, or an empty pipelines map, is an error', async () => {
    const base = `receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug:\n`;
    expect(await errorsOf(`${base}service:\n  extensions: []\n`)).toEqual([expect.stringMatching(/^cfg\/test\.yaml:8:3: service: missing required key "pipelines"$/)]);
    expect(await errorsOf(`${base}service:\n  pipelines: {}\n`)).toEqual([expect.stringMatching(/^cfg\/test\.yaml:8:14: service\.pipelines: "service\.pipelines" must have at least 1 entry$/)]);
  });

  it('optional blocks stay absent: no tls, dead_letter or cors appear when not given', async () => {
    const cfg = await load(`receivers:\n  otlp:\n    protocols:\n      http:\n      grpc: { endpoint: 127.0.0.1:0 }\nexporters:\n  debug:\n  otlphttp:\n    endpoint: http://127.0.0.1:1\n${PIPE.replace('[debug]', '[debug, otlphttp]')}`);
    const otlp = cfg.components.receivers.get('otlp')!.config as { protocols: { http: Record<string, unknown>; grpc: Record<string, unknown> } };
    expect(otlp.protocols.http.endpoint).toBe('localhost:4318'); // an empty block is on, with defaults
    expect(otlp.protocols.http).not.toHaveProperty('tls');
    expect(otlp.protocols.http).not.toHaveProperty('cors');
    expect(otlp.protocols.grpc).not.toHaveProperty('tls');
    expect(otlp.protocols.grpc).not.toHaveProperty('keepalive');
    const ex = cfg.components.exporters.get('otlphttp')!.config;
    expect(ex).not.toHaveProperty('tls');
    expect(ex).not.toHaveProperty('dead_letter');
    expect(ex.sending_queue).toMatchObject({ enabled: true, queue_size: 1000 }); // always-present blocks keep their defaults
    expect(stringify(maskResolved(cfg))).not.toMatch(/tls/);
  });

  it('listeners default to loopback, as the Collector since v0.104', async () => {
    const cfg = await load(`receivers:\n  otlp:\n    protocols:\n      grpc:\n      http:\nexporters:\n  debug:\n${PIPE}`);
    const otlp = cfg.components.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string }; grpc: { endpoint: string } } };
    expect(otlp.protocols.grpc.endpoint).toBe('localhost:4317');
    expect(otlp.protocols.http.endpoint).toBe('localhost:4318');
  });
});

describe('TLS: a client fragment and a server fragment, each with exactly its keys', () => {
  it('a client-only key on a server is an error', async () => {
    const errs = await errorsOf(`receivers:\n  otlp:\n    protocols:\n      http:\n        tls:\n          cert_file: a.pem\n          key_file: a.key\n          insecure_skip_verify: true\nexporters:\n  debug:\n${PIPE}`);
    expect(errs).toEqual([expect.stringMatching(/^cfg\/test\.yaml:8:11: receivers\.otlp: unknown key "insecure_skip_verify"$/)]);
  });

  it('a server-only key on a client is an error', async () => {
    const errs = await errorsOf(`receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlp:\n    endpoint: collector:4317\n    tls:\n      client_ca_file: ca.pem\n${PIPE.replace('[debug]', '[otlp]')}`);
    expect(errs).toEqual([expect.stringMatching(/^cfg\/test\.yaml:9:7: exporters\.otlp: unknown key "client_ca_file"$/)]);
  });

  it('nettap upstream_tls is the client fragment too', async () => {
    const errs = await errorsOf(`receivers:\n  nettap:\n    proxy:\n      outbound: {}\n      upstream_tls: { client_ca_file: x.pem }\nexporters:\n  debug:\nservice:\n  pipelines:\n    logs: { receivers: [nettap], exporters: [debug] }\n`);
    expect(errs.join('\n')).toMatch(/unknown key "client_ca_file"/);
  });
});

describe('secrets', () => {
  const withHeaders = `receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    endpoint: https://collector.example:4318\n    headers:\n      Authorization: Bearer sk-live-abcdef123456\n      X-Api-Key: key-0123456789\n      X-Tenant: acme\n${PIPE.replace('[debug]', '[otlphttp]')}`;

  it('print-config masks otlphttp headers (Authorization, X-Api-Key) and keeps the header names', async () => {
    const cfg = await load(withHeaders);
    const text = stringify(maskResolved(cfg));
    expect(text).not.toContain('sk-live-abcdef123456');
    expect(text).not.toContain('key-0123456789');
    const headers = (maskResolved(cfg) as { exporters: { otlphttp: { headers: Record<string, string> } } }).exporters.otlphttp.headers;
    expect(headers).toEqual({ Authorization: '[REDACTED]', 'X-Api-Key': '[REDACTED]', 'X-Tenant': '[REDACTED]' });
  });

  it('logs never carry a secret value, whatever field or message holds it', async () => {
    const cfg = await load(withHeaders);
    let out = '';
    const sink = new Writable({ write(chunk, _e, cb) { out += String(chunk); cb(); } });
    const log = createLogger('info', sink, cfg.secrets);
    log.error({ err: new Error('401 for Bearer sk-live-abcdef123456') }, 'export failed with key-0123456789');
    expect(out).toContain('[REDACTED]');
    expect(out).not.toContain('sk-live-abcdef123456');
    expect(out).not.toContain('key-0123456789');
  });
});

describe('an unset ${env:…} in a security-relevant setting is an error', () => {
  it('a missing query_api bearer token is an error, not auth silently off', async () => {
    const errs = await errorsOf(`receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  debug:\nextensions:\n  query_api:\n    bearer_token: \${env:QUERY_TOKEN}\nservice:\n  extensions: [query_api]\n  pipelines:\n    logs: { receivers: [otlp], exporters: [debug] }\n`);
    expect(errs).toContainEqual(expect.stringMatching(/^cfg\/test\.yaml:9:19: extensions\.query_api: environment variable QUERY_TOKEN is not set; \$\{env:QUERY_TOKEN\} names a secret/));
  });

  it('an unset OTLP endpoint is an error, not a bind on all interfaces', async () => {
    const errs = await errorsOf(`receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: \${env:OTLP_ENDPOINT}\nexporters:\n  debug:\n${PIPE}`);
    expect(errs).toEqual([expect.stringMatching(/^cfg\/test\.yaml:5:19: receivers\.otlp: environment variable OTLP_ENDPOINT is not set; .* names an address/)]);
  });

  it('a default written in the reference, or a set variable, is fine; other keys only warn', async () => {
    const cfg = await load(`receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: \${env:OTLP_ENDPOINT:-127.0.0.1:0}\n      http:\n        endpoint: \${env:HTTP_EP}\n        logs_url_path: /v1/\${env:SUFFIX}\nexporters:\n  debug:\n${PIPE}`, { HTTP_EP: '127.0.0.1:0' });
    expect(cfg.warnings).toEqual([expect.stringMatching(/environment variable SUFFIX is not set/)]);
  });
});
