import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/service.js';
import { silentLogger } from '../../src/core/logger.js';
import { sinks, testRegistry } from '../support/capture.js';
import { generate, readJsonl, sampleFiles, tmp, waitFor } from '../support/index.js';

const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
  sinks.clear();
});

async function start(yaml: string, oneShot = false): Promise<Service> {
  const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': yaml }, registry: await testRegistry(), logger: silentLogger(), oneShot });
  await s.start();
  running.push(s);
  return s;
}

/** A following file receiver on <tmp>/in/*.jsonl, checkpointed under <tmp>/state, into capture `label`. */
function following(label: string): { dir: string; yaml: string } {
  const dir = tmp();
  mkdirSync(join(dir, 'in'));
  const yaml = `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], poll_interval: 20ms }
exporters:
  capture: { label: ${label} }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
`;
  return { dir, yaml };
}

/** Every finished (non-hidden) file under dir, recursively. */
function outputFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function linesOf(path: string): unknown[] {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

describe('file receiver → file exporter', () => {
  for (const sample of sampleFiles()) {
    it(`${sample.split('/').pop()} comes out with the same JSON value, line by line`, async () => {
      const dir = tmp();
      const s = await start(`
receivers:
  file: { include: ["${sample}"], follow: false }
exporters:
  file: { layout: rrpipe, path: "${dir}/out/rrpairs.jsonl" }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`, true);
      await s.receiversDone();
      await s.shutdown();
      running.pop();
      const files = outputFiles(join(dir, 'out'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/rrpairs-\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl$/);
      expect(linesOf(files[0]!)).toEqual(readJsonl(sample));
    });
  }

  it('gzip in, gzip out with event-time partitions; each partition holds exactly its records', async () => {
    const dir = tmp();
    const recs = generate(300, { start: Date.parse('2025-03-18T22:30:00Z'), stepMs: 60_000 });
    writeFileSync(join(dir, 'in.jsonl.gz'), gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.jsonl.gz"], follow: false }
exporters:
  file:
    path: "${dir}/out/dt=%Y-%m-%d/hour=%H/rrpairs.jsonl"
    layout: rrpipe
    compression: gzip
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`, true);
    await s.receiversDone();
    await s.shutdown();
    running.pop();
    const files = outputFiles(join(dir, 'out'));
    expect(files.map((f) => f.replace(/rrpairs-.*$/, '').slice(dir.length))).toEqual([
      '/out/dt=2025-03-18/hour=22/', '/out/dt=2025-03-18/hour=23/', '/out/dt=2025-03-19/hour=00/',
      '/out/dt=2025-03-19/hour=01/', '/out/dt=2025-03-19/hour=02/', '/out/dt=2025-03-19/hour=03/',
    ]);
    const all = files.flatMap(linesOf) as { ts: string }[];
    expect(all).toHaveLength(300);
    for (const f of files) {
      const [, day, hour] = /dt=(\d{4}-\d\d-\d\d)\/hour=(\d\d)/.exec(f)!;
      for (const r of linesOf(f) as { ts: string }[]) expect(r.ts.slice(0, 13)).toBe(`${day}T${hour}`);
    }
  });

  it('otlp_json writes OTLP logs documents whose bodies are the RRPairs', async () => {
    const dir = tmp();
    const sample = sampleFiles()[0]!;
    const s = await start(`
receivers:
  file: { include: ["${sample}"], follow: false }
exporters:
  file: { layout: rrpipe, path: "${dir}/out/logs.json", format: otlp_json }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`, true);
    await s.receiversDone();
    await s.shutdown();
    running.pop();
    const { otlpJsonToRecords } = await import('../../src/rrpair/otlp.js');
    const docs = linesOf(outputFiles(join(dir, 'out'))[0]!);
    const back = docs.flatMap((d) => otlpJsonToRecords(d).records.map((r) => r.rrpair));
    expect(back).toEqual(readJsonl(sample));
  });

  it('rotates by size, and a reader never sees a half-written file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'in.jsonl'), generate(400, { bodyBytes: 5000 }).map((r) => JSON.stringify(r)).join('\n') + '\n');
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false, batch_size: 20 }
exporters:
  file: { layout: rrpipe, path: "${dir}/out/r.jsonl", rotation: { max_megabytes: 1 } }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file] }
`, true);
    const seen: string[] = [];
    const watcher = setInterval(() => {
      for (const f of outputFiles(join(dir, 'out'))) {
        if (!seen.includes(f)) {
          seen.push(f);
          const text = readFileSync(f, 'utf8');
          expect(text.endsWith('\n')).toBe(true);
          text.split('\n').filter(Boolean).forEach((l) => JSON.parse(l));
        }
      }
    }, 5);
    await s.receiversDone();
    await s.shutdown();
    clearInterval(watcher);
    running.pop();
    const files = outputFiles(join(dir, 'out'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files.flatMap(linesOf)).toHaveLength(400);
  });

  it('rotating while the periodic fsync runs never touches a closed file', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'in.jsonl'), generate(3000, { bodyBytes: 3000, stepMs: 100 }).map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { pino } = await import('pino');
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void logged.push(l) });
    const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': `
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false, batch_size: 5 }
exporters:
  file: { layout: rrpipe, path: "${dir}/out/%H%M/r.jsonl", flush_interval: 1ms, rotation: { max_megabytes: 1 } }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file] }
` }, registry: await testRegistry(), logger, oneShot: true });
    await s.start();
    await s.receiversDone();
    await s.shutdown();
    expect(logged.filter((l) => /fsync failed|cannot finish/.test(l))).toEqual([]);
    expect(outputFiles(join(dir, "out")).flatMap(linesOf)).toHaveLength(3000);
  });

  it('follows appended lines and new files, and resumes from its checkpoint after a restart', async () => {
    const { dir, yaml } = following('follow');
    const recs = generate(60);
    const line = (i: number) => JSON.stringify(recs[i]) + '\n';
    writeFileSync(join(dir, 'in/a.jsonl'), line(0) + line(1));
    let s = await start(yaml);
    await waitFor(() => sinks.get('follow')?.length === 2);
    appendFileSync(join(dir, 'in/a.jsonl'), line(2) + JSON.stringify(recs[3]).slice(0, 40));
    await waitFor(() => sinks.get('follow')?.length === 3);
    appendFileSync(join(dir, 'in/a.jsonl'), JSON.stringify(recs[3]).slice(40) + '\n');
    writeFileSync(join(dir, 'in/b.jsonl'), line(4));
    await waitFor(() => sinks.get('follow')?.length === 5);
    await s.shutdown();
    running.pop();
    // While stopped: more lines, and a rotation (a.jsonl renamed away, a new a.jsonl created).
    appendFileSync(join(dir, 'in/b.jsonl'), line(5));
    renameSync(join(dir, 'in/a.jsonl'), join(dir, 'in/a.1.jsonl'));
    writeFileSync(join(dir, 'in/a.jsonl'), line(6));
    s = await start(yaml);
    await waitFor(() => sinks.get('follow')?.length === 7);
    await new Promise((r) => setTimeout(r, 100));
    const uuids = sinks.get('follow')!.map((r) => r.rrpair.uuid);
    expect(uuids).toHaveLength(7);
    expect(new Set(uuids)).toEqual(new Set(recs.slice(0, 7).map((r) => r.uuid)));
  });

  it('a file replaced in place with the same first KiB (same inode) is read from the start, not from the old offset', async () => {
    const { dir, yaml } = following('replaced');
    const recs = generate(80);
    const file = join(dir, 'in/a.jsonl');
    const line = (i: number) => JSON.stringify(recs[i]) + '\n';
    writeFileSync(file, Array.from({ length: 30 }, (_, i) => line(i)).join(''));
    const ino = statSync(file).ino;
    let s = await start(yaml);
    await waitFor(() => sinks.get('replaced')?.length === 30);
    await s.shutdown();
    running.pop();
    sinks.clear();
    // While stopped: the same inode gets other content that starts with the same record, longer
    // than the old offset, the old offset inside one of its lines.
    const again = [0, ...Array.from({ length: 45 }, (_, i) => 31 + i)];
    const oldOffset = statSync(file).size;
    const text = again.map(line).join('');
    writeFileSync(file, text);
    expect(statSync(file).ino).toBe(ino);
    expect([text[oldOffset - 1], text[oldOffset]]).not.toContain('\n'); // the old offset is inside a line
    s = await start(yaml);
    await waitFor(() => sinks.get('replaced')?.length === again.length);
    await new Promise((r) => setTimeout(r, 100));
    expect(sinks.get('replaced')!.map((r) => r.rrpair.uuid)).toEqual(again.map((i) => recs[i]!.uuid));
  });

  it('a last line delivered without its newline, completed while stopped, is followed on, not read again', async () => {
    const { dir, yaml } = following('tail');
    const recs = generate(10);
    const file = join(dir, 'in/a.jsonl');
    writeFileSync(file, JSON.stringify(recs[0]) + '\n' + JSON.stringify(recs[1])); // whole JSON, no newline yet
    let s = await start(yaml);
    await waitFor(() => sinks.get('tail')?.length === 2);
    await s.shutdown();
    running.pop();
    appendFileSync(file, '\n' + JSON.stringify(recs[2]) + '\n');
    s = await start(yaml);
    await waitFor(() => sinks.get('tail')?.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(sinks.get('tail')!.map((r) => r.rrpair.uuid)).toEqual(recs.slice(0, 3).map((r) => r.uuid));
  });

  it('a malformed line is dead-lettered with file and line, the rest of the file flows on', async () => {
    const dir = tmp();
    const recs = generate(5);
    const lines = recs.map((r) => JSON.stringify(r));
    lines.splice(2, 0, '{"msgType": "rrpair", "ts": ', '[1,2,3]');
    writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
    const s = await start(`
receivers:
  file: { include: ["${dir}/in.jsonl"], follow: false }
exporters:
  capture: { label: bad }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
`, true);
    await s.receiversDone();
    expect(sinks.get('bad')!.map((r) => r.rrpair.uuid)).toEqual(recs.map((r) => r.uuid));
    expect(await s.telemetry.total('dead_lettered', { component: 'file' })).toBe(2);
    await s.shutdown();
    running.pop();
    const dl = outputFiles(join(dir, 'state/dead_letter'));
    expect(dl).toHaveLength(1);
    const entries = readFileSync(dl[0]!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.map((e) => e.source)).toEqual([`${dir}/in.jsonl:3`, `${dir}/in.jsonl:4`]);
    expect(entries[0].reason).toMatch(/^malformed line: invalid JSON/);
    expect(entries[1].reason).toBe('malformed line: expected a JSON object, got an array');
    // Input refused before redaction is kept as a hash unless dead_letter.raw is set.
    expect(entries[0].raw).toBeUndefined();
    expect(entries[0].sha256).toBe(createHash('sha256').update('{"msgType": "rrpair", "ts": ').digest('hex'));
  });

  it('a corrupt gzip file delivers what was readable and is reported', async () => {
    const dir = tmp();
    const gz = gzipSync(generate(200).map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(dir, 'cut.jsonl.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.gz"], follow: false }
exporters:
  capture: { label: gz }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
`, true);
    await s.receiversDone();
    const got = sinks.get('gz')!.length;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(200);
    expect(await s.telemetry.total('dead_lettered', { component: 'file' })).toBe(1);
  });
});
