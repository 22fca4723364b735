import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { testReceiverFactory } from './support.js';

const PIPE = (exporter: string) => `receivers:\n  testsource: {}\nservice:\n  pipelines:\n    logs/index:\n      receivers: [testsource]\n      exporters: [${exporter}]\n`;

describe('the short-term stores in the shipped configs', () => {
  for (const [file, exporter, env] of [
    ['configs/aws.yaml', 'opensearch/hot', { OPENSEARCH_ENDPOINT: 'https://search-x.eu-west-1.es.amazonaws.com', RRPIPE_ARCHIVE_BUCKET: 'b' }],
    ['configs/default.yaml', 'embedded', {}],
  ] as const) {
    it(file, async () => {
      const cfg = await loadConfig([file], { registry: await builtinRegistry(), env: { ...env } });
      const c = cfg.components.exporters.get(exporter)!;
      expect(c).toBeDefined();
      expect(cfg.components.extensions.get('query_api')!.config.store).toBe(exporter);
      if (exporter === 'opensearch/hot') {
        expect(c.config.aws_sigv4).toEqual({ enabled: true, region: 'us-east-1', service: 'es' });
        expect((c.config.index_management as { retention: number }).retention).toBe(14 * 86_400_000);
      } else {
        expect(c.config.ttl).toBe(7 * 86_400_000);
      }
    });
  }

  it('a search exporter without an endpoint is refused at validation', async () => {
    const registry = await builtinRegistry();
    registry.registerPlugin({ factories: [testReceiverFactory()] }, 'test');
    const text = `exporters:\n  elasticsearch:\n    index_mode: data_stream\n    action: index\n${PIPE('elasticsearch')}`;
    await expect(loadConfig(['x.yaml'], { registry, texts: { 'x.yaml': text } })).rejects.toThrow(/endpoint \(or endpoints\) is required[\s\S]*data stream takes only the create action/);
  });
});
