import { Bigtable } from '@google-cloud/bigtable';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory, rowKey, saltOf, type BigtableExporterConfig } from '../../src/exporters/bigtable/index.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { bigtableEmulator, missing, startBigtable } from '../support/index.js';
import { storeConformance } from '../support/store-conformance.js';
import {
  build, chunks, FlakyProxy, generatedRecords, queryAll, reference, sendAndDrain, type Built,
} from './support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '30s' },
  timeout: '10s',
};

describe.skipIf(missing(bigtableEmulator(), 'the Google Cloud CLI\'s Bigtable emulator: apt-get install google-cloud-cli-bigtable-emulator from Google\'s apt repository, or gcloud components install bigtable'))('bigtable exporter against the Bigtable emulator', () => {
  let emu: Awaited<ReturnType<typeof startBigtable>> | undefined;
  let endpoint = '';
  let admin: Bigtable;

  beforeAll(async () => {
    emu = await startBigtable();
    endpoint = emu.endpoint;
    admin = new Bigtable({ projectId: 'p', apiEndpoint: endpoint, metricsEnabled: false });
  }, 30_000);

  afterAll(async () => {
    await admin?.close().catch(() => {});
    await emu?.stop();
  });

  async function exporter(table: string, extra: Record<string, unknown> = {}, ep = endpoint): Promise<Built<BigtableExporterConfig>> {
    return build(factory, { project_id: 'p', instance_id: 'i', table_id: table, endpoint: ep, ...fast, ...extra });
  }

  it('row keys put service first, spread a service over salt buckets, and sort by time within a bucket', () => {
    const docs = generatedRecords(400).map(indexDocOf);
    const orders = docs.filter((d) => d.service === 'orders');
    const buckets = new Set(orders.map((d) => saltOf(d.id, 16)));
    expect(buckets.size).toBe(16);
    for (const d of orders) expect(rowKey(d, 16).startsWith(`orders#${saltOf(d.id, 16)}#${d.ts}#`)).toBe(true);
    expect(rowKey({ ...docs[0]!, service: 'a#b%c' }, 16).startsWith('a%23b%25c#')).toBe(true);
  });

  storeConformance('bigtable', {
    factory: factory as ExporterFactory<unknown>,
    config: (table) => ({ project_id: 'p', instance_id: 'i', table_id: table, endpoint, ...fast }),
    // Each record is one row plus its id lookup row.
    count: async (table) => (await admin.instance('i').table(table).getRows())[0].length / 2,
    generated: 1_500,
    batch: 100,
    oversize: { bytes: 1_500_000, config: { max_cell_size: '1MiB' }, reason: /^record too large for bigtable: the RRPair cell \(max_cell_size\) is \d+ bytes, the limit is 1048576 bytes$/ },
    cli: { component: 'bigtable/hot', yaml: (table) => `project_id: p\ninstance_id: i\ntable_id: ${table}\nendpoint: ${endpoint}` },
  });

  it('creates the column families with the retention as a max-age GC rule', async () => {
    const b = await exporter('retention', { retention: '9d' });
    try {
      const [families] = await admin.instance('i').table('retention').getFamilies();
      const rules = Object.fromEntries(families.map((f) => [f.id, f.metadata?.gcRule]));
      expect(Object.keys(rules).sort()).toEqual(['i', 'r']);
      for (const rule of Object.values(rules)) {
        const flat = JSON.stringify(rule);
        expect(flat).toContain(`"maxAge":{"seconds":"${9 * 86400}"`);
        expect(flat).toContain('"maxNumVersions":1');
      }
    } finally {
      await b.stop();
    }
  });

  it('a connection dropped mid-batch loses nothing and duplicates nothing', async () => {
    const port = Number(endpoint.split(':')[1]);
    const proxy = new FlakyProxy(port);
    await proxy.start();
    const b = await exporter('drop', {}, `127.0.0.1:${proxy.port}`);
    try {
      const recs = generatedRecords(300);
      proxy.dropAfter(40_000);
      await sendAndDrain(b, chunks(recs, 150));
      expect(proxy.drops).toBe(1);
      expect(await queryAll(b.component, { limit: 1000 })).toEqual(reference(recs));
      // One row per record (plus its id lookup row), each cell with a single version.
      const [rows] = await admin.instance('i').table('drop').getRows();
      expect(rows.length).toBe(600);
      for (const r of rows) for (const fam of Object.values(r.data as Record<string, Record<string, unknown[]>>)) for (const cells of Object.values(fam)) expect(cells).toHaveLength(1);
      expect(await b.host.deadLetters()).toEqual([]);
    } finally {
      await b.stop();
      await proxy.stop();
    }
  }, 60_000);

});
