import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';

const dir = join(import.meta.dirname, '../../configs/byoc');

describe('configs/byoc: Collector-style configs validate', async () => {
  const registry = await builtinRegistry();

  it('otlp-relay.yaml validates with the otlp receiver and the otlp / otlphttp exporters', async () => {
    const file = join(dir, 'otlp-relay.yaml');
    const cfg = await loadConfig([file], { registry, env: {} });
    const otlp = cfg.components.receivers.get('otlp')!.config as { protocols: Record<'grpc' | 'http', Record<string, unknown>> };
    expect(otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(otlp.protocols.http.max_request_body_size).toBe(20 * 1024 * 1024);
    expect(cfg.components.exporters.get('otlp')!.config).toMatchObject({ endpoint: 'otel-collector:4317', timeout: 10_000, tls: { insecure: true } });
    expect(cfg.components.exporters.get('otlphttp')!.config).toMatchObject({ encoding: 'proto', compression: 'gzip' });
    expect(cfg.pipelines.get('logs')!.exporters).toEqual(['otlp', 'otlphttp', 'debug']);
  });

  it.skipIf(!registry.get('exporter', 'file'))('otlp-to-file.yaml validates (needs the file exporter)', async () => {
    const cfg = await loadConfig([join(dir, 'otlp-to-file.yaml')], { registry, env: {} });
    expect(cfg.components.exporters.get('file')!.config).toMatchObject({ format: 'raw_jsonl', compression: 'gzip' });
    expect(cfg.serviceExtensions).toEqual(['health_check']);
  });

  it('the reference chart shape: grpc:/http: given empty turn the protocol on with its defaults', async () => {
    const yaml = `
receivers:
  otlp:
    protocols:
      grpc:
      http:
processors:
  batch: {}
exporters:
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [debug] }
`;
    const cfg = await loadConfig(['c.yaml'], { registry, env: {}, texts: { 'c.yaml': yaml } });
    // An empty block is on, with its defaults filled (loopback listeners, as the Collector since v0.104).
    expect(cfg.components.receivers.get('otlp')!.config.protocols).toMatchObject({ grpc: { endpoint: 'localhost:4317' }, http: { endpoint: 'localhost:4318' } });
    await expect(loadConfig(['d.yaml'], { registry, env: {}, texts: { 'd.yaml': yaml.replace(/      grpc:\n      http:\n/, '      {}\n') } })).rejects.toThrow(/at least one protocol/);
  });
});
