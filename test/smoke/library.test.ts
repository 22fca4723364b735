import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
// The package's public entry point, resolved through package.json "exports" as a library user
// gets it: dist/index.js, built from src/index.ts by `npm run build` (npm test builds first).
import * as rrpipe from 'rrpipe';
import type { ExporterHelperConfig, RecordBatch, RRPair } from 'rrpipe';
import { readJsonl, sampleFiles, tmpDir } from '../support/index.js';

describe('rrpipe as a library, through its public entry point', () => {
  const t = tmpDir('rrpipe-smoke-');
  afterAll(() => t.cleanup());

  it('builds a service from a small config with a component of its own, and every sample arrives', async () => {
    // A component written against the public API only: an exporter keeping what it is sent.
    const received: RRPair[] = [];
    const keep: rrpipe.ExporterFactory<ExporterHelperConfig> = {
      kind: 'exporter',
      type: 'keep',
      stability: 'development',
      description: 'keeps what it receives',
      schema: rrpipe.schema.obj({ ...rrpipe.schema.exporterHelperProperties() }),
      create: (s) => rrpipe.createExporter(s, { push: async (batch: RecordBatch) => void received.push(...batch.map((r) => r.rrpair)) }),
    };
    const registry = await rrpipe.builtinRegistry();
    registry.register(keep);

    const out = join(t.dir, 'out', 'rrpairs.jsonl');
    const yaml = `
receivers:
  file:
    include: [${JSON.stringify(join(sampleFiles()[0]!, '..', '*.raw.jsonl'))}]
    follow: false
processors:
  batch: { send_batch_size: 50, timeout: 10ms }
exporters:
  keep: {}
  file:
    path: ${JSON.stringify(out)}
    layout: rrpipe
service:
  data_dir: ${JSON.stringify(join(t.dir, 'data'))}
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [batch], exporters: [keep, file] }
`;
    const service = new rrpipe.Service({ files: [join(t.dir, 'smoke.yaml')], texts: { [join(t.dir, 'smoke.yaml')]: yaml }, registry, oneShot: true, logger: pino({ level: 'silent' }) });
    await service.start();
    await service.receiversDone();
    await service.shutdown();

    const expected = sampleFiles().flatMap(readJsonl);
    const byUuid = (a: RRPair, b: RRPair) => String(a.uuid).localeCompare(String(b.uuid));
    expect([...received].sort(byUuid)).toEqual([...expected].sort(byUuid));
    // The file exporter names its files itself (rotation): read every file in its folder.
    const dir = join(t.dir, 'out');
    const written = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as RRPair);
    expect(written.sort(byUuid)).toEqual([...expected].sort(byUuid));
  });
});

