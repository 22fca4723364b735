import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedConfig, EmbeddedExporter } from '../../src/exporters/embedded/index.js';
import { EmbeddedStore } from '../../src/exporters/embedded/store.js';
import { newRecord } from '../../src/core/record.js';
import { testHost, tmpDir, withPipeline } from '../support/index.js';
import { genRRPairs, loadSamples, reference, runCli, toRecords, writeConfig, exporterFromYaml, type RefFilter } from './support.js';

const NOW = Date.now();

describe('embedded store: indexed RRPairs come back from rrpipe query exactly as a reference filter selects them', () => {
  const t = tmpDir();
  const samples = loadSamples();
  const generated = genRRPairs(600, NOW);
  let cfgFile = '';

  beforeAll(async () => {
    cfgFile = writeConfig(
      t.dir,
      'embedded.yaml',
      `exporters:\n  embedded/hot:\n    path: ${t.dir}/hot.db\n    sending_queue: { enabled: false }\nservice:\n  data_dir: ${t.dir}/data\n`,
    );
    const { readFileSync } = await import('node:fs');
    const exp = await exporterFromYaml<EmbeddedExporter>(readFileSync(cfgFile, 'utf8'), 'embedded/hot', { file: cfgFile });
    await exp.start(testHost(join(t.dir, 'data')));
    const recs = toRecords([...samples, ...generated]);
    for (let i = 0; i < recs.length; i += 100) await exp.consume(recs.slice(i, i + 100), {});
    // Idempotent: the same records again do not duplicate.
    await exp.consume(recs.slice(0, 50), {});
    await exp.shutdown(AbortSignal.timeout(5000));
  });
  afterAll(() => t.cleanup());

  const cases: [string, string[], RefFilter][] = [
    ['time window only', ['--start', '-3h'], { start: NOW - 3 * 3_600_000 }],
    ['start and end', ['--start', new Date(NOW - 90 * 60_000).toISOString(), '--end', new Date(NOW - 30 * 60_000).toISOString()], { start: NOW - 90 * 60_000, end: NOW - 30 * 60_000 }],
    ['service', ['--start', '-3h', '--service', 'payments'], { start: NOW - 3 * 3_600_000, service: 'payments' }],
    ['namespace', ['--start', '-3h', '--namespace', 'billing'], { start: NOW - 3 * 3_600_000, namespace: 'billing' }],
    ['direction', ['--start', '-3h', '--direction', 'IN'], { start: NOW - 3 * 3_600_000, direction: 'IN' }],
    ['method regex', ['--start', '-3h', '--method', '^(PUT|DELETE)$'], { start: NOW - 3 * 3_600_000, method: '^(PUT|DELETE)$' }],
    ['status regex', ['--start', '-3h', '--status', '^5'], { start: NOW - 3 * 3_600_000, status: '^5' }],
    ['endpoint regex', ['--start', '-3h', '--endpoint', '^/api/orders'], { start: NOW - 3 * 3_600_000, endpoint: '^/api/orders' }],
    ['all filters', ['--start', '-3h', '--service', 'orders', '--direction', 'OUT', '--method', 'GET|POST', '--status', '^[24]', '--endpoint', 'orders'],
      { start: NOW - 3 * 3_600_000, service: 'orders', direction: 'OUT', method: 'GET|POST', status: '^[24]', endpoint: 'orders' }],
    ['samples by their own time', ['--start', '2025-03-01T00:00:00Z', '--end', '2025-04-01T00:00:00Z', '--endpoint', '^/v1/fine_tuning'],
      { start: Date.parse('2025-03-01T00:00:00Z'), end: Date.parse('2025-04-01T00:00:00Z'), endpoint: '^/v1/fine_tuning' }],
  ];

  for (const [name, args, ref] of cases) {
    it(`filter: ${name}`, async () => {
      const want = reference([...samples, ...generated], ref);
      expect(want.length).toBeGreaterThan(0);
      const r = await runCli(['query', '-c', cfgFile, '--store', 'embedded/hot', ...args, '--limit', '0', '--output', 'jsonl'], t.dir);
      expect(r.err).toMatch(/results?/);
      expect(r.code).toBe(0);
      const got = r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).id);
      expect(got).toEqual(want);
    });
  }

  it('--limit pages through the store and stops at N; --output raw gives back the RRPairs unchanged', async () => {
    const want = reference([...samples, ...generated], { start: NOW - 3 * 3_600_000, service: 'frontend' }).slice(0, 37);
    const r = await runCli(['query', '-c', cfgFile, '--store', 'embedded/hot', '--start', '-3h', '--service', 'frontend', '--limit', '37', '--output', 'raw'], t.dir);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const byId = new Map(generated.map((g) => [g.uuid, g]));
    expect(lines.map((l) => l.uuid)).toEqual(want);
    for (const l of lines) expect(l).toEqual(byId.get(l.uuid));
  });

  it('table output has a header and one row per hit', async () => {
    const r = await runCli(['query', '-c', cfgFile, '--store', 'embedded/hot', '--start', '2025-03-18T00:41:00Z', '--end', '2025-03-18T00:42:00Z'], t.dir);
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n');
    expect(rows[0]).toMatch(/^TS\s+DIRECTION\s+SERVICE\s+COMMAND\s+LOCATION\s+STATUS\s+DURATION\s+ID$/);
    expect(rows.slice(1).length).toBe(reference(samples, { start: Date.parse('2025-03-18T00:41:00Z'), end: Date.parse('2025-03-18T00:42:00Z') }).length);
    expect(rows[1]).toContain('POST');
  });

  it('bad usage is refused with exit 2 and a clear message', async () => {
    expect((await runCli(['query', '-c', cfgFile, '--store', 'embedded/hot', '--direction', 'SIDEWAYS'], t.dir)).code).toBe(2);
    const bad = await runCli(['query', '-c', cfgFile, '--store', 'embedded/hot', '--status', '(['], t.dir);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/invalid status regex/);
    const none = await runCli(['query', '-c', cfgFile, '--store', 'nope'], t.dir);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no exporter "nope".*embedded\/hot/);
  });
});

describe('embedded store: retention and size cap', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  it('the ttl deletes rows stored longer ago than ttl, while the exporter runs', async () => {
    let clock = NOW;
    const { createEmbeddedExporter } = await import('../../src/exporters/embedded/index.js');
    const { loadConfig } = await import('../../src/config/load.js');
    const { builtinRegistry } = await import('../../src/components.js');
    const { silentLogger } = await import('../../src/core/logger.js');
    const { noopMetrics } = await import('../../src/core/telemetry.js');
    const f = join(t.dir, 'ttl.yaml');
    const cfg = await loadConfig([f], { registry: await builtinRegistry(), texts: { [f]: withPipeline(`exporters:\n  embedded:\n    path: ${t.dir}/ttl.db\n    ttl: 7d\n    retention_check_interval: 50ms\n    sending_queue: { enabled: false }\n`) } });
    const exp = createEmbeddedExporter(
      { id: 'embedded', kind: 'exporter', config: cfg.components.exporters.get('embedded')!.config as unknown as EmbeddedConfig, logger: silentLogger(), metrics: noopMetrics(), configDir: t.dir },
      { now: () => clock },
    );
    await exp.start(testHost(t.dir));
    const old = genRRPairs(100, NOW, 3_600_000, 7);
    await exp.consume(toRecords(old), {});
    clock = NOW + 5 * 86_400_000;
    const fresh = genRRPairs(50, NOW, 3_600_000, 8);
    await exp.consume(toRecords(fresh), {});
    expect(exp.store!.count()).toBe(150);
    clock = NOW + 7 * 86_400_000 + 1000; // the first 100 are now past 7 days, the 50 are 2 days old
    await new Promise((r) => setTimeout(r, 300));
    expect(exp.store!.count()).toBe(50);
    const page = await exp.query({ limit: 1000 });
    expect(page.hits.map((h) => h.doc.id).sort()).toEqual(fresh.map((r) => r.uuid!).sort());
    await exp.shutdown(AbortSignal.timeout(5000));
  });

  it('the size cap holds: live data stays under max_size, the newest rows are kept', async () => {
    const cap = 512 * 1024;
    let clock = NOW;
    const store = new EmbeddedStore({ path: join(t.dir, 'cap.db'), storeRRPair: true, maxSizeBytes: cap, now: () => clock });
    const all = genRRPairs(6000, NOW, 3_600_000, 9);
    for (let i = 0; i < all.length; i += 200) {
      clock += 1000;
      store.write(toRecords(all.slice(i, i + 200)));
      expect(store.dataSize()).toBeLessThanOrEqual(cap);
    }
    const n = store.count();
    expect(n).toBeGreaterThan(100);
    expect(n).toBeLessThan(all.length);
    // What remains is the newest n records written.
    const kept = new Set((await store.query({ limit: 10_000 })).hits.map((h) => h.doc.id));
    const lastBatchIds = all.slice(-200).map((r) => r.uuid!);
    for (const id of lastBatchIds) expect(kept.has(id)).toBe(true);
    expect(kept.has(all[0]!.uuid!)).toBe(false);
    await store.close();
    expect(existsSync(join(t.dir, 'cap.db'))).toBe(true);
  });

  it('records without a uuid get a content id, the same on every write; a readonly store refuses writes', async () => {
    const store = new EmbeddedStore({ path: join(t.dir, 'noid.db'), storeRRPair: false });
    const rr = { ts: '2025-01-01T00:00:00Z', direction: 'IN', http: { req: { method: 'GET', uri: '/x?y=1' }, res: { statusCode: 204 } } };
    store.write([newRecord(rr)]);
    store.write([newRecord(structuredClone(rr))]);
    expect(store.count()).toBe(1);
    const hit = (await store.query({ limit: 10 })).hits[0]!;
    expect(hit.doc).toMatchObject({ command: 'GET', location: '/x', status: '204', direction: 'IN', ts: '2025-01-01T00:00:00.000000000Z' });
    expect(hit.rrpair).toBeUndefined();
    await store.close();
    const ro = new EmbeddedStore({ path: join(t.dir, 'noid.db'), readOnly: true });
    expect(() => ro.write([newRecord(rr)])).toThrow(/read-only/);
    await ro.close();
  });
});

describe('rrpipe query --output raw reads RRPairs the store does not keep through their archive_uri', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  it('file:// (plain and gzip, #line from 1) is fetched; an unknown scheme is reported', async () => {
    const { writeFileSync } = await import('node:fs');
    const { gzipSync } = await import('node:zlib');
    const { pathToFileURL } = await import('node:url');
    const rrs = genRRPairs(30, NOW, 3_600_000, 71);
    const plain = join(t.dir, 'a.jsonl');
    const gz = join(t.dir, 'b.jsonl.gz');
    writeFileSync(plain, rrs.slice(0, 15).map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(gz, gzipSync(rrs.slice(15, 29).map((r) => JSON.stringify(r)).join('\n') + '\n'));
    const recs = rrs.map((rr, i) =>
      newRecord(rr, { location: i < 15 ? `${pathToFileURL(plain).href}#${i + 1}` : i < 29 ? `${pathToFileURL(gz).href}#${i - 14}` : `ftp://host/key.jsonl.gz#${i}` }),
    );
    const store = new EmbeddedStore({ path: join(t.dir, 'arch.db'), storeRRPair: false });
    store.write(recs);
    await store.close();
    const cfg = writeConfig(t.dir, 'arch.yaml', `exporters:\n  embedded:\n    path: ${join(t.dir, 'arch.db')}\n    store_rrpair: false\n`);
    const r = await runCli(['query', '-c', cfg, '--store', 'embedded', '--start', '-2h', '--limit', '0', '--output', 'raw'], t.dir);
    const got = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const want = reference(rrs.slice(0, 29), { start: NOW - 2 * 3_600_000 });
    expect(got.map((g) => g.uuid)).toEqual(want);
    const byId = new Map(rrs.map((x) => [x.uuid, x]));
    for (const g of got) expect(g).toEqual(byId.get(g.uuid));
    // The ftp:// one is reported, not silently skipped, and the exit code says so.
    expect(r.err).toMatch(/cannot fetch archived RRPairs from ftp:\/\/ locations/);
    expect(r.code).toBe(1);
  });
});

