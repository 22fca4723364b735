import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { get } from '../../src/cli/commands/get.js';
import { lifecycle } from '../../src/cli/commands/lifecycle.js';
import { rehydrate } from '../../src/cli/commands/rehydrate.js';
import { snapshot } from '../../src/cli/commands/snapshot.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord } from '../../src/core/record.js';
import { noopMetrics } from '../../src/core/telemetry.js';
import { archiveExporter } from '../../src/exporters/internal/archive/exporter.js';
import { LocalDirStore } from '../../src/layouts/local.js';
import { testHost, tmp } from '../support/index.js';
import { canon, corpus } from './support.js';

const pairs = corpus(3000);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
let dir: string;

function capture() {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  return { text: () => out, restore: () => { spy.mockRestore(); err.mockRestore(); } };
}

beforeAll(async () => {
  dir = tmp('local');
  const host = testHost(tmp('data'), { oneShot: true });
  const exp = archiveExporter(
    { id: 'local', kind: 'exporter', config: { timeout: 30_000, sending_queue: { enabled: false, num_consumers: 1, queue_size: 1, sizer: 'requests', block_on_overflow: true }, retry_on_failure: { enabled: false, initial_interval: 1, max_interval: 1, max_elapsed_time: 1, multiplier: 1, randomization_factor: 0 } }, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' },
    () => new LocalDirStore(dir),
    { spec: { layout: 'native', prefix: '', format: 'raw_jsonl', compression: 'gzip' }, writeManifest: true },
  );
  await exp.start(host);
  // Written twice: the snapshot must drop the duplicates.
  await exp.consume(pairs.map((p) => newRecord(structuredClone(p))), {});
  await exp.consume(pairs.slice(0, 500).map((p) => newRecord(structuredClone(p))), {});
  await exp.shutdown(AbortSignal.timeout(5000));
});

afterEach(() => vi.restoreAllMocks());

describe('rrpipe snapshot / get / rehydrate / lifecycle on a local directory archive', () => {
  it('snapshot builds one raw.jsonl ordered by ts without duplicate uuids, spilling to disk', async () => {
    const out = join(tmp('snap'), 'raw.jsonl');
    const c = capture();
    const code = await snapshot.run(['--from', dir, '--start', '2025-03-17T00:00:00Z', '--end', '2025-03-20T00:00:00Z', '--out', out, '--spill', '700']);
    c.restore();
    expect(code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(byUuid.size);
    for (const l of lines) expect(canon(l)).toBe(byUuid.get(l.uuid));
    const ts = lines.map((l) => Date.parse(l.ts));
    expect(ts.every((t, i) => i === 0 || ts[i - 1]! <= t)).toBe(true);
  });

  it('snapshot --service unknown takes the records with no service, which the archive files under service=unknown', async () => {
    const d = tmp('unknown-svc');
    const exp = archiveExporter(
      { id: 'local', kind: 'exporter', config: { timeout: 30_000, sending_queue: { enabled: false, num_consumers: 1, queue_size: 1, sizer: 'requests', block_on_overflow: true }, retry_on_failure: { enabled: false, initial_interval: 1, max_interval: 1, max_elapsed_time: 1, multiplier: 1, randomization_factor: 0 } }, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' },
      () => new LocalDirStore(d),
      { spec: { layout: 'native', prefix: '', format: 'raw_jsonl', compression: 'gzip' }, writeManifest: true },
    );
    await exp.start(testHost(tmp('data'), { oneShot: true }));
    const some = pairs.slice(0, 30).map((p, i) => ({ ...structuredClone(p), service: i % 3 === 0 ? 'undefined' : i % 3 === 1 ? '' : 'orders' }));
    await exp.consume(some.map((p) => newRecord(structuredClone(p))), {});
    await exp.shutdown(AbortSignal.timeout(5000));
    expect(readdirSync(d, { recursive: true }).some((f) => String(f).includes('service=unknown'))).toBe(true);
    const out = join(tmp('snap-unknown'), 'raw.jsonl');
    const c = capture();
    const code = await snapshot.run(['--from', d, '--start', '2025-03-17T00:00:00Z', '--end', '2025-03-20T00:00:00Z', '--service', 'unknown', '--out', out]);
    c.restore();
    expect(code).toBe(0);
    const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).uuid).sort();
    expect(got).toEqual(some.filter((p) => p.service !== 'orders').map((p) => p.uuid).sort());
  });

  it('snapshot --format proxymock writes .metadata/snapshot.json and snapshot-<id>/<host>/<uuid>.json', async () => {
    const out = tmp('pm');
    const c = capture();
    const code = await snapshot.run(['--from', pathToFileURL(dir).href, '--start', '2025-03-18T00:00:00Z', '--end', '2025-03-18T05:59:59.999Z', '--service', 'orders', '--format', 'proxymock', '--out', out]);
    c.restore();
    expect(code).toBe(0);
    const meta = JSON.parse(readFileSync(join(out, '.metadata', 'snapshot.json'), 'utf8'));
    const want = pairs.filter((p) => p.service === 'orders' && Date.parse(p.ts!) <= Date.parse('2025-03-18T05:59:59.999Z') && Date.parse(p.ts!) >= Date.parse('2025-03-18T00:00:00Z'));
    expect(meta.records).toBe(want.length);
    const snapDir = readdirSync(out).find((d) => d.startsWith('snapshot-'))!;
    expect(snapDir).toBe(`snapshot-${meta.id}`);
    expect(readdirSync(join(out, snapDir))).toEqual(['api.shop.local']);
    const files = readdirSync(join(out, snapDir, 'api.shop.local'));
    expect(files.length).toBe(want.length);
    const one = want[0]!;
    const hex = Buffer.from(one.uuid!, 'base64').toString('hex');
    expect(canon(JSON.parse(readFileSync(join(out, snapDir, 'api.shop.local', `${hex}.json`), 'utf8')))).toBe(canon(one));
  });

  it('get prints the RRPair at a file:// location', async () => {
    const sub = join(dir, 'dt=2025-03-18', 'hour=03', 'service=payments');
    const obj = readdirSync(sub)[0]!;
    const c = capture();
    const code = await get.run([`${pathToFileURL(join(sub, obj)).href}#2`]);
    c.restore();
    expect(code).toBe(0);
    const rr = JSON.parse(c.text());
    expect(rr.service).toBe('payments');
    expect(canon(rr)).toBe(byUuid.get(rr.uuid));
    const c2 = capture();
    expect(await get.run([`${pathToFileURL(join(sub, obj)).href}#99999`])).toBe(1);
    c2.restore();
  });

  it('rehydrate -c runs the window once, exits 0, and a second run delivers nothing', async () => {
    const cfgDir = tmp('cfg');
    const data = join(cfgDir, 'data');
    mkdirSync(data);
    const file = join(cfgDir, 'r.yaml');
    writeFileSync(file, `
service:
  data_dir: ${data}
  telemetry: { metrics: { level: none }, logs: { level: error } }
  pipelines:
    logs/r: { receivers: [rehydrate], exporters: [debug] }
receivers:
  rehydrate:
    from: ${dir}
    start: '2000-01-01T00:00:00Z'
exporters:
  debug: { verbosity: basic }
`);
    const count = (t: string) => [...t.matchAll(/LogRecords: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    let c = capture();
    expect(await rehydrate.run(['-c', file, '--start', '2025-03-18T10:00:00Z', '--end', '2025-03-18T11:59:59.999Z'])).toBe(0);
    c.restore();
    const want = pairs.filter((p) => Date.parse(p.ts!) >= Date.parse('2025-03-18T10:00:00Z') && Date.parse(p.ts!) <= Date.parse('2025-03-18T11:59:59.999Z'));
    // the first 500 generated pairs were written twice, but they are before 10:00
    expect(count(c.text())).toBe(want.length);
    c = capture();
    expect(await rehydrate.run(['-c', file, '--start', '2025-03-18T10:00:00Z', '--end', '2025-03-18T11:59:59.999Z'])).toBe(0);
    c.restore();
    expect(count(c.text())).toBe(0);
  });

  it('lifecycle prints the provider policy for N days', async () => {
    for (const [provider, check] of [
      ['aws', (j: any) => expect(j.Rules[0].Expiration.Days).toBe(400)],
      ['gcp', (j: any) => expect(j.rule.at(-1)).toEqual({ action: { type: 'Delete' }, condition: { age: 400, matchesPrefix: ['archive/'] } })],
      ['azure', (j: any) => expect(j.rules[0].definition.actions.baseBlob.delete.daysAfterModificationGreaterThan).toBe(400)],
    ] as const) {
      const c = capture();
      expect(await lifecycle.run(['--provider', provider, '--days', '400', '--prefix', 'archive/', '--cold-after', '30'])).toBe(0);
      c.restore();
      check(JSON.parse(c.text()));
    }
    const c = capture();
    expect(await lifecycle.run(['--provider', 'ibm', '--days', '3'])).toBe(2);
    c.restore();
  });
});
