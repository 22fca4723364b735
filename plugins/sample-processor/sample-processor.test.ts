import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { Service } from '../../src/service/service.js';
import { silentLogger } from '../../src/core/logger.js';
import { sinks, testRegistry } from '../../test/support/capture.js';
import { generate, tmp } from '../../test/support/index.js';

const PLUGIN = resolve(__dirname);

describe('sample plugin: the tag processor', () => {
  it('loads from the config\'s plugins list and tags every record, keeping existing tags unless told', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const recs = generate(20);
    recs[0]!.tags = { ...recs[0]!.tags, team: 'already' };
    writeFileSync(join(dir, 'in/a.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, `plugins: [${PLUGIN}]
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: false }
processors:
  tag: { tags: { team: payments, env: staging } }
exporters:
  capture: { label: tagged }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [tag], exporters: [capture] }
`);
    const s = new Service({ files: [cfg], registry: await testRegistry(), logger: silentLogger(), oneShot: true });
    await s.start();
    await s.receiversDone();
    await s.shutdown();
    const got = sinks.get('tagged')!;
    expect(got).toHaveLength(20);
    expect(got[0]!.rrpair.tags).toMatchObject({ team: 'already', env: 'staging' });
    expect(got.slice(1).every((r) => r.rrpair.tags!.team === 'payments' && r.rrpair.tags!.env === 'staging')).toBe(true);
  });

  it('its schema and validate() report config errors with positions', async () => {
    const yaml = `plugins: [${PLUGIN}]
receivers:
  file: { include: [x] }
processors:
  tag:
    tags: { "bad name": x }
    overwrite: maybe
exporters:
  debug:
service:
  pipelines:
    logs: { receivers: [file], processors: [tag], exporters: [debug] }
`;
    const err = await loadConfig(['p.yaml'], { registry: await testRegistry(), texts: { 'p.yaml': yaml }, env: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('p.yaml:7:16: processors.tag: "overwrite" must be boolean');
    const err2 = await loadConfig(['p.yaml'], { registry: await testRegistry(), texts: { 'p.yaml': yaml.replace('overwrite: maybe', 'overwrite: true') }, env: {} }).catch((e) => e);
    expect((err2 as ConfigError).message).toBe('p.yaml:6:25: processors.tag: tag name "bad name" may use letters, digits, _ . - only');
  });

  it('a plugin path that does not load is a config error naming the plugin', async () => {
    const yaml = `plugins: [./no-such-plugin]
receivers: { file: { include: [x] } }
exporters: { debug: }
service: { pipelines: { logs: { receivers: [file], exporters: [debug] } } }
`;
    const err = await loadConfig(['p.yaml'], { registry: await testRegistry(), texts: { 'p.yaml': yaml }, env: {} }).catch((e) => e);
    expect((err as ConfigError).message).toMatch(/^p.yaml:1:11: plugins: cannot load plugin "\.\/no-such-plugin": /);
  });
});
