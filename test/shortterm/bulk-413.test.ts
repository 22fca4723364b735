import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { Telemetry } from '../../src/core/telemetry.js';
import type { SearchExporter, SearchExporterConfig } from '../../src/exporters/internal/searchengine/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { startSearchEngineFake, testHost, tmpDir, withPipeline, type Flavor } from '../support/index.js';
import { genRRPairs, toRecords, writeConfig } from './support.js';

const NOW = Date.now();

for (const flavor of ['opensearch', 'elasticsearch'] as Flavor[]) {
  describe(`${flavor}: a bulk request answered 413 (over http.max_content_length)`, () => {
    const t = tmpDir();
    afterAll(() => t.cleanup());

    it('is split in halves and retried until each part fits; a document too large alone is dead-lettered with the reason', async () => {
      const fake = await startSearchEngineFake({ flavor, maxContentLength: 24_000 });
      try {
        const rrs = genRRPairs(240, NOW, 3_600_000, 41);
        const huge: RRPair = { ...rrs[0]!, uuid: 'huge-413-doc', http: { req: { method: 'POST', uri: '/upload' }, res: { statusCode: 200, bodyBase64: Buffer.alloc(40_000, 3).toString('base64') } } };
        const all = [...rrs.slice(0, 120), huge, ...rrs.slice(120)];
        const yaml = `exporters:\n  ${flavor}:\n    endpoint: ${fake.url}\n    mapping: { store_rrpair: true }\n    flush: { max_docs: 200, bytes: 5MiB }\n    dead_letter: { path: ${t.dir}/dlq }\n    sending_queue: { enabled: false }\n    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 5s }\n`;
        const file = writeConfig(t.dir, `${flavor}.yaml`, yaml);
        const cfg = await loadConfig([file], { registry: await builtinRegistry(), texts: { [file]: withPipeline(yaml) } });
        const c = cfg.components.exporters.get(flavor)!;
        const telemetry = new Telemetry({ processMetrics: false });
        const exp = (await (c.factory as ExporterFactory).create({
          id: flavor, kind: 'exporter', config: c.config as unknown as SearchExporterConfig, logger: silentLogger(), metrics: telemetry.forComponent(flavor, 'exporter'), configDir: cfg.configDir,
        })) as SearchExporter;
        await exp.start(testHost(t.dir));
        await exp.consume(toRecords(all), {});
        await exp.shutdown(AbortSignal.timeout(5000));

        expect(fake.tooLarge.length).toBeGreaterThan(1);
        for (const n of fake.tooLarge) expect(n).toBeGreaterThan(24_000);
        const docs = fake.docs('rrpipe-rrpairs-*');
        expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
        expect(new Set(docs.map((d) => (d.source.rrpair as RRPair).uuid))).toEqual(new Set(rrs.map((r) => r.uuid)));
        const dl = readdirSync(join(t.dir, 'dlq')).flatMap((f) => readFileSync(join(t.dir, 'dlq', f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l) as { reason: string; rrpair: RRPair });
        expect(dl.map((d) => d.rrpair.uuid)).toEqual(['huge-413-doc']);
        expect(dl[0]!.reason).toMatch(/record too large for the bulk API: .* \d+ bytes and the cluster answered 413/);
        expect(await telemetry.total('sent', { component: flavor })).toBe(rrs.length);
        expect(await telemetry.total('dead_lettered', { component: flavor })).toBe(1);
      } finally {
        await fake.close();
      }
    });
  });
}
