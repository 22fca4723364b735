import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { builtinRegistry } from '../../src/components.js';
import { tmp } from '../support/index.js';

async function errorsOf(yaml: string, env: NodeJS.ProcessEnv = {}, name = 'configs/test.yaml'): Promise<string[]> {
  try {
    await loadConfig([name], { registry: await builtinRegistry(), texts: { [name]: yaml }, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

const VALID = `
receivers:
  file:
    include: [./in/*.jsonl]
exporters:
  debug: {}
service:
  pipelines:
    logs:
      receivers: [file]
      exporters: [debug]
`;

describe('config validation reports file:line:column and the component', () => {
  it('accepts a valid config and fills defaults', async () => {
    const cfg = await loadConfig(['c.yaml'], { registry: await builtinRegistry(), texts: { 'c.yaml': VALID }, env: {} });
    const file = cfg.components.receivers.get('file')!.config;
    expect(file.follow).toBe(true);
    expect(file.poll_interval).toBe(200);
    expect(file.max_line_size).toBe(16 * 1024 * 1024);
    expect(cfg.components.exporters.get('debug')!.config.verbosity).toBe('basic');
    expect(cfg.gracePeriodMs).toBe(30_000);
  });

  it('an unknown key, pointing at the key', async () => {
    const errs = await errorsOf(`exporters:
  file:
    path: out.jsonl
    bukcet: x
receivers:
  file:
    include: [a]
service:
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`);
    expect(errs).toContain('configs/test.yaml:4:5: exporters.file: unknown key "bukcet"');
  });

  it('a wrong type, pointing at the value', async () => {
    const errs = await errorsOf(`receivers:
  file:
    include: [a]
    follow: "sometimes"
    batch_size: lots
exporters:
  debug:
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`);
    expect(errs).toContain('configs/test.yaml:4:13: receivers.file: "follow" must be boolean');
    expect(errs).toContain('configs/test.yaml:5:17: receivers.file: "batch_size" must be integer');
    expect(errs).toHaveLength(2);
  });

  it('an invalid duration and a bad enum value', async () => {
    const errs = await errorsOf(`receivers:
  file:
    include: [a]
    poll_interval: 5 minutes
exporters:
  debug:
    verbosity: loud
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`);
    expect(errs.find((e) => e.startsWith('configs/test.yaml:4:20: receivers.file:'))).toMatch(/invalid duration "5 minutes"/);
    expect(errs).toContain('configs/test.yaml:7:16: exporters.debug: "verbosity" must be one of "basic", "normal", "detailed"');
  });

  it('an address or URL that would fail when the component starts, without echoing it (it may hold a password)', async () => {
    const yaml = `receivers:
  otlp:
    protocols:
      http: { endpoint: "localhost:notaport" }
      grpc: { endpoint: "localhost:99999" }
exporters:
  otlphttp: { endpoint: "http://u:pw-71@[bad" }
  elasticsearch: { endpoints: ["http://127.0.0.1:9200", "http://127.0.0.1:99999999"] }
  redis: { endpoint: "redis://127.0.0.1:6379x" }
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [otlphttp, elasticsearch, redis] }
`;
    const errs = await errorsOf(yaml);
    expect([...errs].sort()).toEqual([
      'configs/test.yaml:4:25: receivers.otlp: "protocols.http.endpoint" is not a valid address (host:port, [v6]:port, host or :port, port at most 65535)',
      'configs/test.yaml:5:25: receivers.otlp: "protocols.grpc.endpoint" is not a valid address (host:port, [v6]:port, host or :port, port at most 65535)',
      'configs/test.yaml:7:25: exporters.otlphttp: "endpoint" is not a valid URL (scheme://host[:port][/path], port at most 65535)',
      'configs/test.yaml:8:57: exporters.elasticsearch: "endpoints.1" is not a valid URL (scheme://host[:port][/path], port at most 65535)',
      'configs/test.yaml:9:22: exporters.redis: "endpoint" is not a valid URL (scheme://host[:port][/path], port at most 65535)',
    ]);
    expect(errs.join('\n')).not.toContain('pw-71');
    // every form a listener or a client takes still passes
    const ok = `receivers:
  otlp:
    protocols:
      http: { endpoint: "[::1]:4318" }
      grpc: { endpoint: ":4317" }
exporters:
  otlphttp: { endpoint: "https://ingest.example.com/otlp" }
  otlp: { endpoint: "collector:4317" }
  elasticsearch: { endpoints: ["http://es-1:9200", "https://user:p%40ss@es-2"] }
  redis: { endpoint: "rediss://:pw@cache.example.com:6380" }
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [otlphttp, otlp, elasticsearch, redis] }
`;
    expect(await errorsOf(ok)).toEqual([]);
  });

  it('an unset ${env:X} in a list of addresses is an error, as in a single address', async () => {
    const yaml = `receivers:
  file: { include: [a] }
exporters:
  elasticsearch: { endpoints: ["\${env:ES_ENDPOINT}"] }
service:
  pipelines:
    logs: { receivers: [file], exporters: [elasticsearch] }
`;
    expect((await errorsOf(yaml))[0]).toMatch(/^configs\/test\.yaml:4:32: exporters\.elasticsearch: environment variable ES_ENDPOINT is not set; .* names an address/);
  });

  it('an empty file names itself; a value refused for being empty names the unset ${env:X} it came from', async () => {
    expect(await errorsOf('', {}, 'configs/empty.yaml')).toEqual(['configs/empty.yaml:1:1: missing required key "service"']);
    const yaml = `receivers:
  file: { include: [a] }
exporters:
  awss3: { s3uploader: { region: eu-west-1, s3_bucket: "\${env:BUCKET}" } }
service:
  pipelines:
    logs: { receivers: [file], exporters: [awss3] }
`;
    expect(await errorsOf(yaml)).toEqual(['configs/test.yaml:4:56: exporters.awss3: "s3uploader.s3_bucket" must NOT have fewer than 1 characters (${env:BUCKET} is not set)']);
  });

  it('a missing required key', async () => {
    const errs = await errorsOf(`receivers:
  file:
    follow: false
exporters:
  debug:
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`);
    expect(errs).toContain('configs/test.yaml:3:5: receivers.file: missing required key "include"');
  });

  it('an unknown component type', async () => {
    const errs = await errorsOf(`receivers:
  kafka:
exporters:
  debug:
service:
  pipelines:
    logs: { receivers: [kafka], exporters: [debug] }
`);
    expect(errs[0]).toMatch(/^configs\/test.yaml:2:3: receivers.kafka: unknown receiver type "kafka" \(known: .*file/);
  });

  it('a pipeline naming an undefined component', async () => {
    const errs = await errorsOf(`receivers:
  file:
    include: [a]
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [file]
      processors: [batch]
      exporters: [debug, file/missing]
`);
    expect(errs).toContain('configs/test.yaml:10:20: service.pipelines.logs: processor "batch" is not defined under processors');
    expect(errs).toContain('configs/test.yaml:11:26: service.pipelines.logs: exporter "file/missing" is not defined under exporters or connectors');
  });

  it('an extension named in service.extensions but not defined, and a storage reference to a disabled extension', async () => {
    const errs = await errorsOf(`receivers:
  file:
    include: [a]
exporters:
  file:
    path: out.jsonl
    sending_queue:
      storage: file_storage
extensions:
  health_check:
service:
  extensions: [health_check, pprof]
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`);
    expect(errs).toContain('configs/test.yaml:12:30: service.extensions: extension "pprof" is not defined under extensions');
    expect(errs).toContain('configs/test.yaml:8:16: exporters.file: "sending_queue.storage" names extension "file_storage", which is not defined under extensions');
  });

  it('a connector used on one side only, and a connector cycle', async () => {
    const registry = await builtinRegistry();
    registry.register({
      kind: 'connector', type: 'forward', stability: 'development', description: 'test connector',
      schema: { type: 'object', additionalProperties: false },
      create: (_s, next) => ({ start: async () => {}, shutdown: async () => {}, consume: (b, c) => next.consume(b, c) }),
    });
    const load = (yaml: string) => loadConfig(['c.yaml'], { registry, texts: { 'c.yaml': yaml }, env: {} }).then(() => [], (e: ConfigError) => e.message.split('\n'));
    const oneSided = await load(`receivers:
  file: { include: [a] }
exporters:
  debug:
connectors:
  forward:
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug, forward] }
`);
    expect(oneSided).toContain('c.yaml:6:3: connectors.forward: connector is used as an exporter (in logs) but no pipeline uses it as a receiver');
    const cycle = await load(`receivers:
  file: { include: [a] }
exporters:
  debug:
connectors:
  forward/a:
  forward/b:
service:
  pipelines:
    logs/a: { receivers: [file, forward/b], exporters: [forward/a] }
    logs/b: { receivers: [forward/a], exporters: [forward/b, debug] }
`);
    expect(cycle.some((e) => /connectors form a cycle: logs\/a -> logs\/b -> logs\/a/.test(e))).toBe(true);
  });

  it('reports every error at once, not the first only', async () => {
    const errs = await errorsOf(`receivers:
  file:
    include: [a]
    bogus: 1
exporters:
  debug:
    verbosity: 3
  file:
    path: 7
service:
  pipelines:
    logs: { receivers: [file, nope], exporters: [debug] }
    traces: { receivers: [file], exporters: [debug] }
`);
    expect(errs.length).toBeGreaterThanOrEqual(5);
    expect(errs.every((e) => /^configs\/test.yaml:\d+:\d+: /.test(e))).toBe(true);
    expect(errs.some((e) => e.includes('pipeline type "traces" is not supported'))).toBe(true);
  });

  it('invalid YAML names the file, line and column', async () => {
    const errs = await errorsOf('receivers:\n  file:\n    include: [a\nexporters: {}\n');
    expect(errs[0]).toMatch(/^configs\/test.yaml:\d+:\d+: invalid YAML/);
  });
});

describe('expansion', () => {
  it('${env:X}, ${env:X:-default}, $$ and typed whole-value references', async () => {
    const yaml = `receivers:
  file:
    include: ["\${env:INBOX}/*.jsonl", "\${env:NOPE:-/fallback}/*.gz", "cost$$5"]
    batch_size: \${env:BATCH}
    follow: \${env:FOLLOW}
exporters:
  debug:
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`;
    const cfg = await loadConfig(['c.yaml'], { registry: await builtinRegistry(), texts: { 'c.yaml': yaml }, env: { INBOX: '/data/in', BATCH: '50', FOLLOW: 'false' } });
    const c = cfg.components.receivers.get('file')!.config;
    expect(c.include).toEqual(['/data/in/*.jsonl', '/fallback/*.gz', 'cost$5']);
    expect(c.batch_size).toBe(50);
    expect(c.follow).toBe(false);
  });

  it('${file:path} reads a file relative to the config, and a missing one is an error at its position', async () => {
    const dir = tmp('rrpipe-cfg-');
    writeFileSync(join(dir, 'out-path.txt'), '/var/out.jsonl\n');
    writeFileSync(join(dir, 'c.yaml'), `receivers:
  file: { include: [a] }
exporters:
  file:
    path: \${file:out-path.txt}
  file/2:
    path: \${file:missing.txt}
service:
  pipelines:
    logs: { receivers: [file], exporters: [file, file/2] }
`);
    const errs = await loadConfig([join(dir, 'c.yaml')], { registry: await builtinRegistry(), env: {} }).then(() => [], (e: ConfigError) => e.issues);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.message).toMatch(/cannot read \$\{file:missing.txt\}: ENOENT/);
    expect(errs[0]!.pos).toMatchObject({ line: 7, col: 11 });
  });

  it('several files merge, later files win, errors name the file they are in', async () => {
    const base = `receivers:
  file: { include: [a] }
exporters:
  debug: { verbosity: basic }
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`;
    const over = `exporters:
  debug:
    verbosity: detailed
    colour: true
`;
    const registry = await builtinRegistry();
    const err = await loadConfig(['base.yaml', 'over.yaml'], { registry, texts: { 'base.yaml': base, 'over.yaml': over }, env: {} }).catch((e: ConfigError) => e);
    expect((err as ConfigError).message).toBe('over.yaml:4:5: exporters.debug: unknown key "colour"');
    const ok = await loadConfig(['base.yaml', 'o.yaml'], { registry, texts: { 'base.yaml': base, 'o.yaml': 'exporters:\n  debug:\n    verbosity: detailed\n' }, env: {} });
    expect(ok.components.exporters.get('debug')!.config.verbosity).toBe('detailed');
  });
});
