/**
 * The file exporter, unconfigured beyond `path`, behaves as the OTel Collector's file exporter
 * (exporter/fileexporter: writes exactly `path`, OTLP JSON one document per line, truncates unless
 * `append`; with `rotation`, lumberjack renames full files to <name>-<2006-01-02T15-04-05.000><ext>).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Host } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createFileExporter, type FileExporterConfig } from '../../src/exporters/file/index.js';
import { backupName } from '../../src/exporters/file/otel-file.js';
import { otlpJsonToRecords } from '../../src/rrpair/otlp.js';
import { testRegistry } from '../support/capture.js';
import { loadSample, tmp } from '../support/index.js';

async function fileConfig(block: string): Promise<FileExporterConfig> {
  const yaml = `receivers: { file: { include: [x] } }\nexporters:\n  file:\n${block}\nservice: { pipelines: { logs: { receivers: [file], exporters: [file] } } }`;
  const cfg = await loadConfig(['c.yaml'], { registry: await testRegistry(), texts: { 'c.yaml': yaml }, env: {} });
  return cfg.components.exporters.get('file')!.config as unknown as FileExporterConfig;
}

const host = (dataDir: string): Host => ({ getExtension: () => undefined, getExporter: () => undefined, reportStatus: () => {}, status: () => ({ running: true, pipelines: {}, components: {} }), dataDir, oneShot: false });

async function run(config: FileExporterConfig, dir: string, batches: RecordBatch[]): Promise<void> {
  const t = new Telemetry({ processMetrics: false });
  const e = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('file', 'exporter'), configDir: '.' });
  await e.start(host(join(dir, 'state')));
  for (const b of batches) await e.consume(b, {});
  await e.shutdown(AbortSignal.timeout(10_000));
}

const samples = loadSample('openai-fine-tuning.raw.jsonl');

function uuidsIn(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).flatMap((l) => otlpJsonToRecords(JSON.parse(l)).records.map((r) => r.rrpair.uuid!));
}

describe('file exporter, OTel defaults', () => {
  it('writes exactly its path, OTLP JSON one document per batch line, and nothing else in the directory', async () => {
    const dir = tmp();
    const path = join(dir, 'out', 'out.jsonl');
    await run(await fileConfig(`    path: "${path}"`), dir, [samples.slice(0, 20).map((r) => newRecord(r)), samples.slice(20).map((r) => newRecord(r))]);
    expect(readdirSync(join(dir, 'out'))).toEqual(['out.jsonl']);
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    const back = lines.flatMap((l) => otlpJsonToRecords(JSON.parse(l)).records.map((r) => r.rrpair));
    expect(back).toEqual(samples);
  });

  it('truncates an existing file at start, or appends to it with append: true', async () => {
    const dir = tmp();
    const path = join(dir, 'out.json');
    writeFileSync(path, '{"old":true}\n');
    await run(await fileConfig(`    path: "${path}"`), dir, [samples.slice(0, 3).map((r) => newRecord(r))]);
    expect(readFileSync(path, 'utf8')).not.toContain('"old"');
    await run(await fileConfig(`    path: "${path}"\n    append: true`), dir, [samples.slice(3, 5).map((r) => newRecord(r))]);
    expect(uuidsIn(path)).toEqual(samples.slice(0, 5).map((s) => s.uuid));
  });

  it('rotates as lumberjack: full files become <name>-<time><ext> beside path, at most max_backups kept', async () => {
    const dir = tmp();
    const path = join(dir, 'rrpairs.json');
    const batches: RecordBatch[] = [];
    const big = 'x'.repeat(300 * 1024);
    for (let b = 0; b < 12; b++) batches.push([newRecord({ msgType: 'rrpair', ts: '2025-03-18T00:00:00Z', uuid: `u${b}`, pad: big })]);
    await run(await fileConfig(`    path: "${path}"\n    rotation: { max_megabytes: 1, max_backups: 2 }`), dir, batches);
    const names = readdirSync(dir).sort();
    const backups = names.filter((n) => n !== 'rrpairs.json');
    expect(names).toContain('rrpairs.json');
    expect(backups).toHaveLength(2);
    for (const n of backups) expect(n).toMatch(/^rrpairs-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.json$/);
    // The newest records are in path; the two newest backups hold the ones before, nothing torn.
    const kept = [...backups.map((n) => join(dir, n)), path].flatMap(uuidsIn);
    expect(kept).toEqual(batches.slice(12 - kept.length).map((b) => b[0]!.rrpair.uuid));
    for (const f of [...backups.map((n) => join(dir, n)), path]) expect(readFileSync(f).length).toBeLessThanOrEqual(1024 * 1024);
  });

  it('backup names follow lumberjack: the last extension stays last, UTC unless localtime', () => {
    const d = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    expect(backupName('/x/out.jsonl.gz', d, false)).toBe('/x/out.jsonl-2026-01-02T03-04-05.006.gz');
    expect(backupName('/x/noext', d, false)).toBe('/x/noext-2026-01-02T03-04-05.006');
  });

  it('a path template (%Y, {service}) without layout: rrpipe is a config error naming the fix', async () => {
    await expect(fileConfig('    path: "out/%Y/{service}.jsonl"')).rejects.toThrow(/layout: rrpipe/);
  });

  it('a key of the other layout is a config error, not silently ignored; unset, each layout keeps its defaults', async () => {
    await expect(fileConfig('    path: out.jsonl\n    append_extension: false\n    rotation: { max_idle: 1s, interval: 0 }')).rejects.toThrow(
      /"append_extension" applies to layout rrpipe only[\s\S]*"rotation\.interval" applies to layout rrpipe only[\s\S]*"rotation\.max_idle" applies to layout rrpipe only/,
    );
    await expect(fileConfig('    path: out.jsonl\n    layout: rrpipe\n    append: true\n    rotation: { localtime: true }')).rejects.toThrow(
      /"append" applies to layout otel only[\s\S]*"rotation\.localtime" applies to layout otel only/,
    );
    const otel = await fileConfig('    path: out.jsonl\n    append: true\n    rotation: { localtime: true, max_megabytes: 1 }');
    expect(otel).toMatchObject({ append: true, rotation: { localtime: true } });
    const rr = await fileConfig('    path: out.jsonl\n    layout: rrpipe\n    rotation: { max_idle: 1s }');
    expect(rr.rotation).toMatchObject({ max_idle: 1000 });
  });
});
