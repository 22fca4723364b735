import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Host } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createFileExporter, type FileExporterConfig } from '../../src/exporters/file/index.js';
import { testRegistry } from '../support/capture.js';
import { tmp } from '../support/tmp.js';

async function fileConfig(path: string, extra = ''): Promise<FileExporterConfig> {
  const yaml = `receivers: { file: { include: [x] } }
exporters:
  file:
    path: "${path}"
    layout: rrpipe
${extra}
service: { pipelines: { logs: { receivers: [file], exporters: [file] } } }`;
  const cfg = await loadConfig(['c.yaml'], { registry: await testRegistry(), texts: { 'c.yaml': yaml }, env: {} });
  return cfg.components.exporters.get("file")!.config as unknown as FileExporterConfig;
}

const host = (dataDir: string): Host => ({ getExtension: () => undefined, getExporter: () => undefined, reportStatus: () => {}, status: () => ({ running: true, pipelines: {}, components: {} }), dataDir, oneShot: false });

function batch(tag: number, n: number): RecordBatch {
  return Array.from({ length: n }, (_, i) => newRecord({ uuid: `b${tag}-r${i}`, ts: '2025-03-18T00:00:00Z' }));
}

function outbox(dir: string): { uuids: string[]; files: string[]; partial: string[] } {
  const names = readdirSync(dir);
  const files = names.filter((n) => !n.startsWith('.'));
  const uuids: string[] = [];
  for (const f of files) {
    const raw = readFileSync(join(dir, f));
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const l of text.split('\n')) if (l) uuids.push(JSON.parse(l).uuid);
  }
  return { uuids, files, partial: names.filter((n) => n.endsWith('.partial')) };
}

describe('file exporter: concurrent first batches', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`share one part file, and shutdown leaves no .partial file with every acknowledged record finished (${compression})`, async () => {
      const dir = tmp();
      const config = await fileConfig(join(dir, 'out/rrpairs.jsonl'), `    compression: ${compression}`);
      const t = new Telemetry({ processMetrics: false });
      const e = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('file', 'exporter'), configDir: '.' });
      await e.start(host(join(dir, 'state')));
      // Eight batches for the same path arrive before any part file exists.
      const acks = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => e.consume(batch(i, 100), {})));
      expect(acks.every((a) => a.status === 'fulfilled')).toBe(true);
      await e.shutdown(AbortSignal.timeout(10_000));

      const out = outbox(join(dir, 'out'));
      expect(out.partial).toEqual([]);
      expect(out.files).toHaveLength(1);
      const expected = Array.from({ length: 8 }, (_, b) => Array.from({ length: 100 }, (_, r) => `b${b}-r${r}`)).flat();
      expect(out.uuids.sort()).toEqual(expected.sort());
    });
  }
});
