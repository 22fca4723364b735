import { BlobServiceClient } from '@azure/storage-blob';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobStore } from '../../src/layouts/azure.js';
import { getRecordAt } from '../../src/layouts/get.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { startAzurite, tmp } from '../support/index.js';
import { bigPairs, canon, corpus, expectSameRecords, rehydrateInto, runOnce, sinks, sources } from './support.js';

let az: Awaited<ReturnType<typeof startAzurite>>;
const pairs = corpus(2000);
sources.set('az', pairs);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
const ALL = { start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z' };
// otel_azure_blob names blobs by write time (as the OTel exporter): that case uses records of the last 30 hours.
const recent = corpus(2000, Date.now() - 30 * 3_600_000).filter((p) => p.resource === 'gen');
sources.set('recent', recent);
const byUuidRecent = new Map(recent.map((p) => [p.uuid!, canon(p)]));
const RECENT = { start: new Date(Date.now() - 31 * 3_600_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() };

beforeAll(async () => {
  az = await startAzurite();
  await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('logs').create();
}, 60_000);
afterAll(async () => {
  await az?.stop();
});

function writeYaml(exporterBlock: string, viaConnector = false): string {
  const pipes = viaConnector
    ? `    logs/archive:\n      receivers: [memsource]\n      exporters: [azure_blob]\n    logs/index:\n      receivers: [azure_blob]\n      exporters: [memsink]`
    : `    logs/archive:\n      receivers: [memsource]\n      exporters: [azure_blob]`;
  return `
service:
  data_dir: ${tmp('data')}
  pipelines:
${pipes}
receivers:
  memsource: { name: az, batch: 700 }
${viaConnector ? 'connectors' : 'exporters'}:
  azure_blob:
    auth: { type: connection_string, connection_string: '${az.connectionString}' }
${exporterBlock}
${viaConnector ? 'exporters:\n  memsink: { name: indexed }' : ''}
`;
}

describe('azure_blob exporter → Azurite → rehydrate and snapshot', () => {
  const cases = [
    { prefix: 'native', block: '    prefix: native\n    layout: native\n    access_tier: Cool' },
    { prefix: 'otel', block: '    prefix: otel\n    layout: otel_azure_blob\n    format: json\n    access_tier: Cool' },
    { prefix: 'fb', block: '    prefix: fb\n    layout: fluentbit_s3' },
    { prefix: 'native-zstd', block: '    prefix: native-zstd\n    layout: native\n    compression: zstd' },
  ];
  for (const c of cases) {
    it(`${c.prefix}: every record comes back equal, once`, async () => {
      const otel = c.block.includes('otel_azure_blob');
      const win = otel ? RECENT : ALL;
      const want = otel ? byUuidRecent : byUuid;
      let yaml = writeYaml(c.block);
      if (otel) yaml = yaml.replace('name: az,', 'name: recent,');
      await runOnce(yaml);
      expectSameRecords(await rehydrateInto(`az-${c.prefix}`, `azblob://devstoreaccount1/logs/${c.prefix}`, { azure: { connection_string: az.connectionString }, ...win }), want);
      const store = new AzureBlobStore({ container: 'logs', connectionString: az.connectionString });
      const out = join(tmp('snap'), 'raw.jsonl');
      const res = await buildSnapshot({ store, prefix: c.prefix, layout: 'auto', startMs: Date.parse(win.start), endMs: Date.parse(win.end), format: 'raw_jsonl', out });
      expect(res.problems).toEqual([]);
      expectSameRecords(readFileSync(out, 'utf8').trim().split('\n').map((l) => ({ rrpair: JSON.parse(l) })), want);
    });
  }

  it('writes the OTel azure_blob names and sets the access tier (checked with the SDK)', async () => {
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('logs');
    let n = 0;
    for await (const b of container.listBlobsFlat({ prefix: 'otel/' })) {
      if (b.name.includes('_rrpipe')) continue;
      n++;
      expect(b.name).toMatch(/^otel\/\d{4}\/\d\d\/\d\d\/logs_\d\d_\d\d_\d\d\.json_\d{1,4}$/);
      expect(b.properties.accessTier).toBe('Cool');
    }
    expect(n).toBeGreaterThan(0);
    for await (const b of container.listBlobsFlat({ prefix: 'fb/year=' })) expect(b.name).toMatch(/^fb\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/[0-9a-f-]{36}-\d+\.json\.gz$/);
  });

  it('as a connector, hands each archived record with an azblob:// location that rrpipe get resolves', async () => {
    sinks.set('indexed', { records: [] });
    sources.set('az-few', pairs.slice(0, 400));
    await runOnce(writeYaml('    prefix: conn\n    layout: native\n    access_tier: Hot', true).replace('name: az,', 'name: az-few,'));
    const got = sinks.get('indexed')!.records;
    expect(got.length).toBe(400);
    for (const r of got.slice(0, 400).filter((_, i) => i % 40 === 0)) {
      expect(r.location).toMatch(/^azblob:\/\/devstoreaccount1\/logs\/conn\/dt=.+#\d+$/);
      const back = await getRecordAt(r.location!, { azure: { connection_string: az.connectionString } });
      expect(canon(back)).toBe(canon(r.rrpair));
    }
  });

  it('a blob above max_single_shot_size goes up as staged blocks, committed whole, and reads back equal', async () => {
    const MiB = 1 << 20;
    const big = bigPairs(120, 104 * 1024);
    sources.set('az-big', big);
    await runOnce(writeYaml('    prefix: blocks\n    layout: native\n    max_single_shot_size: 5MiB\n    block_size: 4MiB').replace('name: az,', 'name: az-big,'));
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('logs');
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'blocks/dt=' })) names.push(b.name);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^blocks\/dt=2025-03-19\/hour=07\/service=blobs\/[0-9A-HJKMNP-TV-Z]{26}\.jsonl\.gz$/);
    const blob = container.getBlockBlobClient(names[0]!);
    const size = (await blob.getProperties()).contentLength!;
    expect(size).toBeGreaterThan(11 * MiB);
    expect(size).toBeLessThan(14 * MiB);
    // Put Block × n then one Put Block List: the committed list has the blocks, none left uncommitted.
    const list = await blob.getBlockList('all');
    expect(list.committedBlocks!.length).toBe(Math.ceil(size / (4 * MiB)));
    expect(list.committedBlocks!.slice(0, -1).every((b) => b.size === 4 * MiB)).toBe(true);
    expect(list.committedBlocks!.reduce((a, b) => a + b.size, 0)).toBe(size);
    expect(list.uncommittedBlocks ?? []).toEqual([]);
    const text = gunzipSync(await blob.downloadToBuffer()).toString('utf8');
    expect(text.trim().split('\n').map((l) => JSON.parse(l).uuid)).toEqual(big.map((p) => p.uuid));
    const got = await rehydrateInto('az-blocks', 'azblob://devstoreaccount1/logs/blocks', { azure: { connection_string: az.connectionString }, start: '2025-03-19T07:00:00Z', end: '2025-03-19T08:00:00Z' });
    expect(got.length).toBe(big.length);
    const want = new Map(big.map((p) => [p.uuid!, canon(p)]));
    for (const r of got) expect(canon(r.rrpair)).toBe(want.get(r.rrpair.uuid!));
    expect(new Set(got.map((r) => r.rrpair.uuid)).size).toBe(big.length);
  });
});
