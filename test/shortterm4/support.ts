import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { expect } from 'vitest';
import type { QueryHit } from '../../src/core/query.js';
import type { RRRecord } from '../../src/core/record.js';
import { runCli } from '../support/index.js';
import { canon } from '../longterm/support.js';
import { generatedRecords, queryAll, reference, sendAndDrain, type Built } from '../shortterm2/support.js';

export { build, chunks, generatedRecords, hugeRecord, queryAll, reference, sampleRecords, sendAndDrain, type Built } from '../shortterm2/support.js';

/** The reference of an index-only store: the index documents, no RRPair. */
export function docsOnly(records: RRRecord[], pred: (h: QueryHit) => boolean = () => true): QueryHit[] {
  return reference(records, pred).map((h) => ({ doc: h.doc }));
}

/** Settings that make an exporter retry fast and deliver inline (no queue) in tests. */
export const FAST = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '30s' },
  timeout: '5s',
};


export const WINDOW = ['--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z'];

/** A shipped config with a file source instead of OTLP, no extensions, its state under dir/name. */
export function patchedConfig(shipped: string, dir: string, name: string, input: string, edit: (doc: Document) => void): string {
  const doc = parseDocument(readFileSync(shipped, 'utf8'));
  doc.set('receivers', { file: { include: [input], start_at: 'beginning', follow: false } });
  doc.setIn(['processors', 'batch'], { send_batch_size: 2000 });
  doc.deleteIn(['extensions']);
  doc.setIn(['service', 'extensions'], []);
  doc.setIn(['service', 'telemetry'], { metrics: { level: 'none' } });
  doc.setIn(['service', 'data_dir'], join(dir, name, 'state'));
  doc.setIn(['service', 'grace_period'], '30m');
  doc.setIn(['service', 'pipelines', 'logs/archive', 'receivers'], ['file']);
  edit(doc);
  mkdirSync(join(dir, name), { recursive: true });
  const file = join(dir, name, 'rrpipe.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l)));
}

/**
 * `rrpipe run --once` of a config, then `rrpipe query --output jsonl` (every archive_uri under
 * the archive's scheme), `--output raw` (each RRPair fetched through its archive_uri) and
 * `rrpipe snapshot --from <store>`: equal to what went in.
 */
export async function cliRoundTrip(cfg: string, store: string, env: NodeJS.ProcessEnv, dir: string, want: string[], archivePrefix: string): Promise<void> {
  const run = await runCli(['run', '--once', '-c', cfg], env);
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  expect(run.stderr).not.toMatch(/dead.letter/i);
  const docs = await runCli(['query', '-c', cfg, '--store', store, ...WINDOW, '--limit', '0', '--output', 'jsonl', '--out', join(dir, 'docs.jsonl')], env);
  expect(docs.code, docs.stderr.slice(-2000)).toBe(0);
  const uris = readFileSync(join(dir, 'docs.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { archive_uri?: string }).archive_uri ?? '');
  expect(uris).toHaveLength(want.length);
  expect(uris.filter((u) => !u.startsWith(archivePrefix))).toEqual([]);
  const raw = await runCli(['query', '-c', cfg, '--store', store, ...WINDOW, '--limit', '0', '--output', 'raw', '--out', join(dir, 'raw.jsonl')], env);
  expect(raw.code, raw.stderr.slice(-2000)).toBe(0);
  expect(lines(join(dir, 'raw.jsonl')).sort()).toEqual(want);
  const snap = await runCli(['snapshot', '-c', cfg, '--from', store, ...WINDOW, '--out', join(dir, 'snap.jsonl')], env);
  expect(snap.code, snap.stderr.slice(-2000)).toBe(0);
  expect(lines(join(dir, 'snap.jsonl')).sort()).toEqual(want);
}

/** A fake that can refuse every connection (`down`) and counts the connections it cut. */
export interface Outage {
  down: boolean;
  cut: number;
}

/**
 * An outage while a batch is sent: every connection cut for a while, then the service back. The
 * exporter retries until it is; every record is then there, once, and nothing is dead-lettered.
 */
export async function expectOutageLosesNothing(b: Built<unknown>, fake: Outage, count: number): Promise<void> {
  const recs = generatedRecords(count);
  fake.cut = 0;
  fake.down = true;
  try {
    const done = sendAndDrain(b, [recs]);
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.cut).toBeGreaterThan(0);
    fake.down = false;
    await done;
  } finally {
    fake.down = false;
  }
  expect(await queryAll(b.component, { limit: 1000 })).toEqual(docsOnly(recs));
  expect(await b.host.deadLetters()).toEqual([]);
}

/**
 * A config that rehydrates the whole test corpus (the samples' day to the generated RRPairs'
 * last: a window the reader lists partition by partition) from an archive into one exporter, run
 * with `rrpipe run --once`; then `rrpipe query --output raw` of that store must give every RRPair.
 */
export async function rehydrateInto(dir: string, from: string, connection: string, exporter: string, exporterKeys: string[], env: NodeJS.ProcessEnv, want: string[]): Promise<void> {
  const cfg = join(dir, `rehydrate-${exporter}.yaml`);
  writeFileSync(cfg, [
    'receivers:',
    '  rehydrate:',
    `    from: ${from}`,
    `    ${connection}`,
    "    start: '2025-03-18T00:00:00Z'",
    "    end: '2025-06-04T00:00:00Z'",
    'processors:',
    '  indexing: {}',
    'exporters:',
    `  ${exporter}:`,
    ...exporterKeys.map((k) => `    ${k}`),
    'service:',
    `  data_dir: ${join(dir, `rehydrate-${exporter}-state`)}`,
    '  telemetry: { metrics: { level: none } }',
    '  pipelines:',
    `    logs: { receivers: [rehydrate], processors: [indexing], exporters: [${exporter}] }`,
    '',
  ].join('\n'));
  const run = await runCli(['run', '--once', '-c', cfg], env);
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  const out = join(dir, `rehydrated-${exporter}.jsonl`);
  const raw = await runCli(['query', '-c', cfg, '--store', exporter, ...WINDOW, '--limit', '0', '--output', 'raw', '--out', out], env);
  expect(raw.code, raw.stderr.slice(-2000)).toBe(0);
  expect(lines(out).sort()).toEqual(want);
}
