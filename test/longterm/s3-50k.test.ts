import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/layouts/s3.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { startS3, tmp } from '../support/index.js';
import { canon, corpus, expectSameRecords, rehydrateInto, runOnce, sinks, sources } from './support.js';

// The full size: the samples plus 50,000 generated RRPairs spread over 30 hours, through
// awss3 (native layout, gzip) into s3rver, read back whole by the rehydrate receiver and by snapshot.
const N = 50_000;
const pairs = corpus(N);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
const gen = pairs.filter((p) => p.resource === 'gen');
const ALL = { start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z' };
sources.set('50k', pairs);

let s3: Awaited<ReturnType<typeof startS3>>;
beforeAll(async () => {
  s3 = await startS3(['archive']);
});
afterAll(async () => {
  await s3?.stop();
});

describe('awss3 native gzip at the issue\'s size: samples + 50,000 RRPairs over 30 hours', () => {
  it('rehydrate and snapshot both give back exactly the input', async () => {
    expect(gen.length).toBe(N);
    expect(pairs.length).toBeGreaterThan(N);
    const spanH = (Date.parse(gen.at(-1)!.ts!) - Date.parse(gen[0]!.ts!)) / 3_600_000;
    expect(spanH).toBeGreaterThan(29.9);

    await runOnce(`
service:
  data_dir: ${tmp('data')}
  pipelines:
    logs/archive: { receivers: [memsource], exporters: [awss3] }
receivers:
  memsource: { name: 50k, batch: 1000 }
exporters:
  awss3:
    layout: native
    s3uploader: { s3_bucket: archive, s3_prefix: big, endpoint: '${s3.endpoint}', s3_force_path_style: true, compression: gzip }
`);
    const keys = s3.events.filter((e) => e.eventName.startsWith('ObjectCreated')).map((e) => e.s3.object.key);
    const data = keys.filter((k) => !k.includes('_rrpipe'));
    // 31 hours × 3 services at least, every one a gzip object in its Hive partition.
    expect(data.length).toBeGreaterThanOrEqual(31 * 3);
    for (const k of data) expect(k).toMatch(/^big\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/service=[^/]+\/[0-9A-HJKMNP-TV-Z]{26}\.jsonl\.gz$/);

    const got = await rehydrateInto('50k', 's3://archive/big', { s3: { endpoint: s3.endpoint, s3_force_path_style: true }, ...ALL, parallel: 4, batch_size: 2000 });
    expectSameRecords(got, byUuid);
    for (const r of got) expect(r.location).toMatch(/^s3:\/\/archive\/big\/dt=.+#\d+$/);
    sinks.delete('50k');

    const out = join(tmp('snap50k'), 'raw.jsonl');
    const store = new S3Store({ bucket: 'archive', endpoint: s3.endpoint, forcePathStyle: true });
    const res = await buildSnapshot({ store, prefix: 'big', layout: 'auto', startMs: Date.parse(ALL.start), endMs: Date.parse(ALL.end), format: 'raw_jsonl', out, spillRecords: 12_000 });
    await store.close();
    expect(res.problems).toEqual([]);
    expect(res.duplicates).toBe(0);
    expect(res.runs).toBeGreaterThan(1);
    expect(res.records).toBe(byUuid.size);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    rmSync(dirname(out), { recursive: true, force: true });
    expect(lines.length).toBe(byUuid.size);
    const snapSeen = new Set<string>();
    const ts: number[] = [];
    const genOrder: string[] = [];
    for (const l of lines) {
      const p = JSON.parse(l);
      expect(snapSeen.has(p.uuid)).toBe(false);
      snapSeen.add(p.uuid);
      if (canon(p) !== byUuid.get(p.uuid)) expect(canon(p)).toBe(byUuid.get(p.uuid));
      ts.push(Date.parse(p.ts));
      if (p.resource === 'gen') genOrder.push(p.uuid);
    }
    expect(ts.every((t, i) => i === 0 || ts[i - 1]! <= t)).toBe(true);
    // The generated ts strictly increase with their index (µs digits included): snapshot keeps that exact order.
    expect(genOrder).toEqual(gen.map((p) => p.uuid));
  }, 300_000);
});
