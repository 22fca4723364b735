import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { S3Store } from '../../src/layouts/s3.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { startS3, tmp } from '../support/index.js';
import { bigPairs, canon, corpus, expectSameRecords, runOnce, sinks, sources } from './support.js';

let s3: Awaited<ReturnType<typeof startS3>>;
const pairs = corpus(5000);
sources.set('all', pairs);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
const T0 = Date.parse('2025-03-18T00:00:00Z');
const ALL = { start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z' };
// The otel_awss3 layout names objects by write time (as the OTel exporter): those cases use records
// of the last 30 hours and a window that reaches now.
const recent = corpus(5000, Date.now() - 30 * 3_600_000).filter((p) => p.resource === 'gen');
sources.set('recent', recent);
const byUuidRecent = new Map(recent.map((p) => [p.uuid!, canon(p)]));
const RECENT = { start: new Date(Date.now() - 31 * 3_600_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() };

beforeAll(async () => {
  s3 = await startS3(['archive']);
});
afterAll(async () => {
  await s3?.stop();
});

function exporterYaml(prefix: string, extra: string, layout = 'native'): string {
  return `
service:
  data_dir: ${tmp('data')}
  pipelines:
    logs/archive:
      receivers: [memsource]
      exporters: [awss3]
receivers:
  memsource: { name: all, batch: 1000 }
exporters:
  awss3:
    s3uploader:
      s3_bucket: archive
      s3_prefix: ${prefix}
      endpoint: ${s3.endpoint}
      s3_force_path_style: true
    layout: ${layout}
${extra}
`;
}

function rehydrateYaml(name: string, from: string, extra = '', dataDir = tmp('data')): string {
  return `
service:
  data_dir: ${dataDir}
  pipelines:
    logs/back:
      receivers: [rehydrate]
      exporters: [memsink]
receivers:
  rehydrate:
    from: ${from}
    s3: { endpoint: '${s3.endpoint}', s3_force_path_style: true }
    parallel: 4
    batch_size: 300
${extra}
exporters:
  memsink: { name: ${name} }
`;
}

async function rehydrate(name: string, from: string, extra: string, dataDir?: string) {
  sinks.set(name, { records: [] });
  await runOnce(rehydrateYaml(name, from, extra, dataDir));
  return sinks.get(name)!.records;
}

const cases = [
  { prefix: 'native-raw-gzip', cfg: '' },
  { prefix: 'native-otlp-zstd', cfg: '    marshaler: otlp_json\n    s3uploader: { compression: zstd }' },
  { prefix: 'otel', cfg: '    layout: otel_awss3' },
  { prefix: 'otel-raw-gzip', cfg: '    layout: otel_awss3\n    marshaler: raw_jsonl' },
  { prefix: 'fluentbit', cfg: '    layout: fluentbit_s3' },
];

describe('awss3 exporter → s3rver → rehydrate receiver and snapshot', () => {
  for (const c of cases) {
    it(`${c.prefix}: every record comes back equal, once`, async () => {
      // Merge the case's s3uploader keys into the base block.
      const layout = /layout: (\w+)/.exec(c.cfg)?.[1] ?? 'native';
      const otel = layout === 'otel_awss3';
      let yaml = exporterYaml(c.prefix, '', layout);
      if (otel) yaml = yaml.replace('name: all', 'name: recent');
      const win = otel ? RECENT : ALL;
      const want = otel ? byUuidRecent : byUuid;
      const m = /s3uploader: \{ (.*) \}/.exec(c.cfg);
      const rest = c.cfg.replace(/\n?\s*s3uploader: \{.*\}/, '').replace(/\n?\s*layout: \w+/, '');
      if (m) yaml = yaml.replace('s3_force_path_style: true', `s3_force_path_style: true\n      ${m[1]!.replace(': ', ': ')}`);
      yaml = yaml.trimEnd() + '\n' + rest.replace(/^ {4}/gm, '    ') + '\n';
      await runOnce(yaml);
      const got = await rehydrate(`rt-${c.prefix}`, `s3://archive/${c.prefix}`, `    start: '${win.start}'\n    end: '${win.end}'`);
      expectSameRecords(got, want);
      expect(got[0]!.location).toMatch(new RegExp(`^s3://archive/${c.prefix}/.+#\\d+$`));

      const out = join(tmp('snap'), 'raw.jsonl');
      const store = new S3Store({ bucket: 'archive', endpoint: s3.endpoint, forcePathStyle: true });
      const res = await buildSnapshot({ store, prefix: c.prefix, layout: 'auto', startMs: Date.parse(win.start), endMs: Date.parse(win.end), format: 'raw_jsonl', out, spillRecords: 1500 });
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(res.runs).toBeGreaterThan(1);
      expectSameRecords(lines.map((rrpair) => ({ rrpair })), want);
      const ts = lines.map((l) => Date.parse(l.ts));
      expect(ts.every((t, i) => i === 0 || ts[i - 1]! <= t)).toBe(true);
      await store.close();
    });
  }

  it('native keys are Hive partitions on event time with a manifest; otel_awss3 keys are the OTel exporter\'s, without one', async () => {
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'native-raw-gzip/' }));
    const keys = (page.Contents ?? []).map((c) => c.Key!);
    expect(keys).toContain('native-raw-gzip/_rrpipe/layout.json');
    const data = keys.filter((k) => !k.includes('_rrpipe'));
    for (const k of data) expect(k).toMatch(/^native-raw-gzip\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/service=[^/]+\/[0-9A-HJKMNP-TV-Z]{26}\.jsonl\.gz$/);
    expect(data.some((k) => k.includes('service=web%2Ffrontend'))).toBe(true);
    const otel = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'otel/' }));
    const otelKeys = (otel.Contents ?? []).map((c) => c.Key!);
    expect(otelKeys.length).toBeGreaterThan(0);
    // internal/upload/partition.go: <s3_prefix>/<partition of the write time>/logs_<9 letters and digits, the first a letter>.json
    for (const k of otelKeys) expect(k).toMatch(/^otel\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/minute=\d\d\/logs_[A-Za-z][A-Za-z0-9]{8}\.json$/);
    const fb = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'fluentbit/' }));
    for (const k of (fb.Contents ?? []).map((c) => c.Key!).filter((k) => !k.includes('_rrpipe'))) {
      expect(k).toMatch(/^fluentbit\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/[0-9a-f-]{36}-\d+\.json\.gz$/);
    }
    client.destroy();
  });

  it('sets the storage class on every object', async () => {
    let yaml = exporterYaml('glacier', '');
    yaml = yaml.replace('s3_force_path_style: true', 's3_force_path_style: true\n      storage_class: STANDARD_IA');
    sources.set('few', pairs.slice(0, 300));
    await runOnce(yaml.replace('name: all', 'name: few'));
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'glacier/dt=' }));
    expect(page.Contents?.length).toBeGreaterThan(0);
    for (const o of page.Contents!) {
      const head = await client.send(new HeadObjectCommand({ Bucket: 'archive', Key: o.Key! }));
      expect(head.StorageClass).toBe('STANDARD_IA');
    }
    client.destroy();
  });

  it('window edges: records exactly at start and end are in, one ms outside are out, a window spanning midnight', async () => {
    // Generated records are spaced 21.6 s apart from T0; pick edges that fall on records.
    const inRange = (s: number, e: number) => new Map([...byUuid].filter(([, v]) => { const t = Date.parse(JSON.parse(v).ts); return t >= s && t <= e; }));
    const at = (i: number) => Date.parse(pairs.find((p) => p.resource === 'gen' && Date.parse(p.ts!) >= T0 + i * 21_600)!.ts!);
    const s = at(500);
    const e = at(4500);
    expect(new Date(s).getUTCDate()).not.toBe(new Date(e).getUTCDate());
    const got = await rehydrate('edges', 's3://archive/native-raw-gzip', `    start: '${new Date(s).toISOString()}'\n    end: '${new Date(e).toISOString()}'`);
    const want = inRange(s, e);
    expect(want.size).toBeGreaterThan(3900);
    expectSameRecords(got, want);
    const uuids = new Set(got.map((r) => Date.parse(r.rrpair.ts!)));
    expect(uuids.has(s)).toBe(true);
    expect(uuids.has(e)).toBe(true);
    const narrow = await rehydrate('edges2', 's3://archive/native-raw-gzip', `    start: '${new Date(s + 1).toISOString()}'\n    end: '${new Date(e - 1).toISOString()}'`);
    expect(narrow.length).toBe(want.size - 2);
  });

  it('a record hours late lands in its event-time partition and is found', async () => {
    const late = { ...pairs[10]!, uuid: 'bGF0ZWxhdGVsYXRlbGF0ZQ==', ts: '2025-03-18T02:15:00.500Z' };
    sources.set('late', [late]);
    await runOnce(exporterYaml('native-raw-gzip', '').replace('name: all', 'name: late'));
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'native-raw-gzip/dt=2025-03-18/hour=02/' }));
    expect(page.Contents!.length).toBeGreaterThan(3);
    client.destroy();
    const got = await rehydrate('late', 's3://archive/native-raw-gzip', `    start: '2025-03-18T02:15:00.400Z'\n    end: '2025-03-18T02:15:00.600Z'`);
    expect(got.map((r) => r.rrpair.uuid)).toEqual([late.uuid]);
  });

  it('filters by service and status, listing only that service\'s partitions', async () => {
    const got = await rehydrate('filt', 's3://archive/native-raw-gzip', `    start: '${ALL.start}'\n    end: '${ALL.end}'\n    filter: { service: [web/frontend], status: ['5*'] }`);
    const want = pairs.filter((p) => p.service === 'web/frontend' && String(p.status).startsWith('5'));
    expect(got.length).toBe(want.length);
    expect(got.every((r) => r.rrpair.service === 'web/frontend' && r.rrpair.status === '500')).toBe(true);
  });

  it('kill half-way and restart: every record arrives, none twice', async () => {
    const dataDir = tmp('resume');
    const name = 'resume';
    const sink = { records: [] as never[], onBatch: undefined as undefined | (() => void) };
    sinks.set(name, sink);
    let stopAt: () => void = () => {};
    const half = new Promise<void>((r) => (stopAt = r));
    sink.onBatch = () => {
      if (sink.records.length >= 2500) stopAt();
    };
    const extra = `    start: '${ALL.start}'\n    end: '${ALL.end}'`;
    await runOnce(rehydrateYaml(name, 's3://archive/native-raw-gzip', extra, dataDir), { beforeDone: () => half });
    const first = sink.records.length;
    expect(first).toBeGreaterThanOrEqual(2500);
    expect(first).toBeLessThan(byUuid.size + 1);
    sink.onBatch = undefined;
    await runOnce(rehydrateYaml(name, 's3://archive/native-raw-gzip', extra, dataDir));
    const all = sink.records as { rrpair: { uuid?: string } }[];
    // the late record from the previous test is in this prefix too
    const want = new Map(byUuid);
    want.set('bGF0ZWxhdGVsYXRlbGF0ZQ==', canon({ ...pairs[10]!, uuid: 'bGF0ZWxhdGVsYXRlbGF0ZQ==', ts: '2025-03-18T02:15:00.500Z' }));
    expectSameRecords(all, want);
    // A third run of a finished absolute window delivers nothing.
    const before = all.length;
    await runOnce(rehydrateYaml(name, 's3://archive/native-raw-gzip', extra, dataDir));
    expect(sink.records.length).toBe(before);
  });

  it('bad input: corrupt gzip, truncated line, foreign object are counted with their keys; the rest flows', async () => {
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const p = 'bad/dt=2025-03-18/hour=05/service=x/';
    const good = pairs.slice(200, 203).map((x) => ({ ...x, ts: '2025-03-18T05:10:00Z' }));
    const put = (k: string, b: Buffer) => client.send(new PutObjectCommand({ Bucket: 'archive', Key: p + k, Body: b }));
    await put('a-good.jsonl.gz', gzipSync(good.map((g) => JSON.stringify(g)).join('\n') + '\n'));
    const corrupt = gzipSync(Buffer.from(good.map((g) => JSON.stringify(g)).join('\n')));
    corrupt.fill(0x41, 20, 40);
    await put('b-corrupt.jsonl.gz', corrupt);
    await put('c-truncated.jsonl', Buffer.from(JSON.stringify(good[0]) + '\n' + JSON.stringify(good[1]).slice(0, 50) + '\n' + JSON.stringify(good[2]) + '\n'));
    await put('d-foreign.csv', Buffer.from('a,b,c\n1,2,3\n'));
    client.destroy();
    sinks.set('bad', { records: [] });
    const svc = await runOnce(rehydrateYaml('bad', 's3://archive/bad', `    layout: native\n    start: '2025-03-18T05:00:00Z'\n    end: '2025-03-18T06:00:00Z'`));
    const got = sinks.get('bad')!.records;
    expect(got.length).toBe(3 + 2);
    const text = await svc.telemetry.text();
    expect(text).toMatch(/rrpipe_rehydrate_errors_total\{[^}]*reason="bad_line"[^}]*\} 3/);
    expect(text).toMatch(/rrpipe_rehydrate_errors_total\{[^}]*reason="corrupt_object"[^}]*\} 1/);
    expect(text).toMatch(/rrpipe_rehydrate_errors_total\{[^}]*reason="foreign_object"[^}]*\} 1/);
    const out = join(tmp('snapbad'), 'raw.jsonl');
    const store = new S3Store({ bucket: 'archive', endpoint: s3.endpoint, forcePathStyle: true });
    const res = await buildSnapshot({ store, prefix: 'bad', layout: 'native', startMs: Date.parse('2025-03-18T05:00:00Z'), endMs: Date.parse('2025-03-18T06:00:00Z'), format: 'raw_jsonl', out });
    await store.close();
    expect(res.records).toBe(3);
    expect(res.problems.map((x) => x.uri).sort()).toEqual([
      `s3://archive/${p}b-corrupt.jsonl.gz`,
      `s3://archive/${p}c-truncated.jsonl`,
      `s3://archive/${p}d-foreign.csv`,
      `s3://archive/${p}d-foreign.csv`,
    ]);
    rmSync(out, { force: true });
  });

  it('an object above multipart_threshold goes up in 5 MiB parts and reads back whole and equal', async () => {
    const MiB = 1 << 20;
    const big = bigPairs(120, 104 * 1024);
    sources.set('big', big);
    const parts: number[] = [];
    const orig = S3Client.prototype.send;
    const send = vi.spyOn(S3Client.prototype, 'send').mockImplementation(function (this: S3Client, ...args: unknown[]) {
      if (args[0] instanceof UploadPartCommand) parts.push((args[0].input.Body as Buffer).length);
      return (orig as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    } as never);
    try {
      const yaml = exporterYaml('multipart', '').replace('name: all', 'name: big').replace('s3_force_path_style: true', 's3_force_path_style: true\n      multipart_threshold: 5MiB\n      part_size: 5MiB');
      await runOnce(yaml);
    } finally {
      send.mockRestore();
    }
    const created = s3.events.filter((e) => e.s3.object.key.startsWith('multipart/dt='));
    expect(created.map((e) => e.eventName)).toEqual(['ObjectCreated:Post']); // one object, by CompleteMultipartUpload
    const key = created[0]!.s3.object.key;
    expect(key).toMatch(/^multipart\/dt=2025-03-19\/hour=07\/service=blobs\/[0-9A-HJKMNP-TV-Z]{26}\.jsonl\.gz$/);
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const head = await client.send(new HeadObjectCommand({ Bucket: 'archive', Key: key }));
    const size = head.ContentLength!;
    expect(size).toBeGreaterThan(11 * MiB);
    expect(size).toBeLessThan(14 * MiB);
    expect(parts.length).toBe(Math.ceil(size / (5 * MiB)));
    expect(parts.slice(0, -1).every((n) => n === 5 * MiB)).toBe(true);
    expect(parts.reduce((a, b) => a + b, 0)).toBe(size);
    // The stored object is one whole gzip stream of every record, in order.
    const obj = await client.send(new GetObjectCommand({ Bucket: 'archive', Key: key }));
    const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString('utf8');
    client.destroy();
    expect(text.trim().split('\n').map((l) => JSON.parse(l).uuid)).toEqual(big.map((p) => p.uuid));
    // And the rehydrate receiver gives back every record equal.
    const got = await rehydrate('multipart', 's3://archive/multipart', `    start: '2025-03-19T07:00:00Z'\n    end: '2025-03-19T08:00:00Z'`);
    expect(got.length).toBe(big.length);
    const want = new Map(big.map((p) => [p.uuid!, canon(p)]));
    for (const r of got) expect(canon(r.rrpair)).toBe(want.get(r.rrpair.uuid!));
    expect(new Set(got.map((r) => r.rrpair.uuid)).size).toBe(big.length);
  });
});
