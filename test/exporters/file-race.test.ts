import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Host } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createFileExporter, jsonLines, LineSizeHint, type FileExporterConfig } from '../../src/exporters/file/index.js';
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

describe('file exporter: lines and paths', () => {
  /** Lines of every finished file under dir, by file path relative to it. */
  function filesUnder(dir: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const f of readdirSync(dir, { recursive: true }).map(String)) {
      if (!/\.jsonl(\.gz)?$/.test(f) || f.split('/').pop()!.startsWith('.')) continue;
      const raw = readFileSync(join(dir, f));
      out.set(f, (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n').filter(Boolean));
    }
    return out;
  }

  for (const compression of ['none', 'gzip'] as const) {
    it(`writes each RRPair as exactly its JSON line, multi-byte text included, into the file its template names (${compression})`, async () => {
      const dir = tmp();
      const config = await fileConfig(join(dir, 'out/%Y/%m/{service}/%%d-%d%H{namespace}.jsonl'), `    compression: ${compression}`);
      const t = new Telemetry({ processMetrics: false });
      const e = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('file', 'exporter'), configDir: '.' });
      await e.start(host(join(dir, 'state')));
      // Lines of growing size, mostly multi-byte (2, 3 and 4 bytes a character), so the batch
      // outgrows its first buffer and characters meet its end.
      const texts = ['é', '漢字', '😀', 'a"\\\n', 'x'];
      const records = (round: number) =>
        Array.from({ length: 60 }, (_, i) =>
          newRecord(
            { uuid: `r${round}-${i}`, ts: `2025-0${1 + (i % 3)}-1${i % 2}T0${i % 4}:00:00Z`, service: i % 2 ? 'svc/ä' : undefined, note: texts[i % texts.length]!.repeat(1 + i * i * (round + 1)) },
            { attributes: { service: 'from-attr', namespace: 'ns' } },
          ),
        );
      const sent = [records(0), records(1), records(2)];
      for (const b of sent) await e.consume(b, {});
      await e.shutdown(AbortSignal.timeout(10_000));

      const want = new Map<string, string[]>();
      for (const r of sent.flat()) {
        const ts = new Date(r.rrpair.ts as string);
        const p2 = (n: number) => String(n).padStart(2, '0');
        const dir2 = `${ts.getUTCFullYear()}/${p2(ts.getUTCMonth() + 1)}/${r.rrpair.service ? 'svc__' : 'from-attr'}`;
        const key = `${dir2}/%${p2(ts.getUTCDate())}-${p2(ts.getUTCDate())}${p2(ts.getUTCHours())}ns`;
        want.set(key, [...(want.get(key) ?? []), JSON.stringify(r.rrpair)]);
      }
      const got = new Map<string, string[]>();
      for (const [f, lines] of filesUnder(join(dir, 'out'))) {
        // Finished names get a time and random suffix before the extension.
        const key = f.replace(/-\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl(\.gz)?$/, '');
        got.set(key, [...(got.get(key) ?? []), ...lines]);
      }
      expect(new Set(got.keys())).toEqual(new Set(want.keys()));
      for (const [k, lines] of want) expect(got.get(k)).toEqual(lines);
    });
  }

  it('two exporters in one process, one with 100 KB lines and one with 60-byte lines, each write exactly their own lines', async () => {
    const dir = tmp();
    const t = new Telemetry({ processMetrics: false });
    const exporters = await Promise.all(
      ['big', 'small'].map(async (name) => {
        const config = await fileConfig(join(dir, `${name}/out.jsonl`));
        const e = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent(name, 'exporter'), configDir: '.' });
        await e.start(host(join(dir, `state-${name}`)));
        return e;
      }),
    );
    const [big, small] = exporters as [(typeof exporters)[0], (typeof exporters)[0]];
    const rec = (name: string, i: number, note: string) => newRecord({ uuid: `${name}-${i}`, ts: '2025-03-18T00:00:00Z', note });
    const sent = { big: [] as RecordBatch[], small: [] as RecordBatch[] };
    for (let round = 0; round < 4; round++) {
      const b = Array.from({ length: 3 }, (_, i) => rec('big', round * 3 + i, 'ü'.repeat(50_000 + i)));
      const s = Array.from({ length: 40 }, (_, i) => rec('small', round * 40 + i, 'x'.repeat(i % 3)));
      sent.big.push(b);
      sent.small.push(s);
      // Alternating, so each batch follows one of the other exporter's.
      await small.consume(s, {});
      await big.consume(b, {});
    }
    await Promise.all(exporters.map((e) => e.shutdown(AbortSignal.timeout(10_000))));

    for (const name of ['big', 'small'] as const) {
      const files = filesUnder(join(dir, name));
      expect(files.size).toBe(1);
      expect([...files.values()][0]).toEqual(sent[name].flat().map((r) => JSON.stringify(r.rrpair)));
    }
  });

  it('a raw_jsonl line-size hint is changed only by the batches encoded with it', () => {
    const big = new LineSizeHint();
    const small = new LineSizeHint();
    const bigs = [newRecord({ uuid: 'b', note: 'y'.repeat(100_000) })];
    const smalls = [newRecord({ uuid: 's' })];
    expect(jsonLines(smalls, small).toString()).toBe(JSON.stringify(smalls[0]!.rrpair) + '\n');
    const smallHint = small.bytes;
    expect(smallHint).toBe(Buffer.byteLength(JSON.stringify(smalls[0]!.rrpair)) + 1);
    expect(jsonLines(bigs, big).toString()).toBe(JSON.stringify(bigs[0]!.rrpair) + '\n');
    expect(big.bytes).toBeGreaterThan(100_000);
    expect(small.bytes).toBe(smallHint);
  });

  it('writes a line far longer in UTF-8 than in characters whole, after short lines (layout otel, raw_jsonl)', async () => {
    const dir = tmp();
    const yaml = `receivers: { file: { include: [x] } }
exporters: { file: { path: "${join(dir, 'out.jsonl')}", format: raw_jsonl } }
service: { pipelines: { logs: { receivers: [file], exporters: [file] } } }`;
    const cfg = await loadConfig(['c.yaml'], { registry: await testRegistry(), texts: { 'c.yaml': yaml }, env: {} });
    const config = cfg.components.exporters.get('file')!.config as unknown as FileExporterConfig;
    const t = new Telemetry({ processMetrics: false });
    const e = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('file', 'exporter'), configDir: '.' });
    await e.start(host(join(dir, 'state')));
    // Short ASCII lines first: the next batch's buffer is sized from them, so the long line of
    // 4-byte characters (2 UTF-16 units each) outgrows the room its length in characters asks for.
    const sent = [newRecord({ uuid: 'short', ts: '2025-03-18T00:00:00Z' }), newRecord({ uuid: 'long', note: '😀'.repeat(50_000) + 'é'.repeat(3) })];
    await e.consume([sent[0]!], {});
    await e.consume([sent[1]!], {});
    await e.shutdown(AbortSignal.timeout(10_000));
    const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(lines).toEqual(sent.map((r) => JSON.stringify(r.rrpair)));
  });
});
