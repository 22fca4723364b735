import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryableStore } from '../../src/core/query.js';
import { EmbeddedStore } from '../../src/exporters/embedded/store.js';
import type { SearchExporter } from '../../src/exporters/internal/searchengine/index.js';
import { filterFromParams } from '../../src/helpers/query-params.js';
import { startSearchEngineFake, testHost, tmpDir, type Flavor, type SearchEngineFake } from '../support/index.js';
import { exporterFromYaml, genRRPairs, loadSamples, runCli, toRecords, writeConfig } from './support.js';

// The protocol filter (exact match on l7protocol) in the embedded store, the search engines and
// `rrpipe query --protocol`: exactly the matching documents, alone and with other filters.
const NOW = Date.now();
const H = 3_600_000;
const PROTOCOLS = ['http', 'grpc', 'postgres'];
const rrs = [...loadSamples(), ...genRRPairs(300, NOW, 2 * H, 31).map((r, i) => ({ ...r, l7protocol: PROTOCOLS[i % 3]! }))];

async function allIds(store: QueryableStore, filter: Parameters<QueryableStore['query']>[0]): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.query({ ...filter, limit: 23, ...(after ? { after } : {}) });
    ids.push(...page.hits.map((h) => h.doc.id));
    if (!page.next) return ids.sort();
    after = page.next;
  }
}

const want = (pred: (r: (typeof rrs)[number]) => boolean) => rrs.filter(pred).map((r) => r.uuid!).sort();

function checks(store: () => QueryableStore) {
  it('returns exactly the records of one protocol', async () => {
    for (const p of ['grpc', 'postgres', 'https']) {
      const w = want((r) => r.l7protocol === p);
      expect(w.length).toBeGreaterThan(50);
      expect(await allIds(store(), { protocol: p })).toEqual(w);
    }
  });
  it('combines with the other filters and matches nothing for an unknown protocol', async () => {
    expect(await allIds(store(), { protocol: 'grpc', service: 'orders', status: '^5' })).toEqual(want((r) => r.l7protocol === 'grpc' && r.service === 'orders' && /^5/.test(r.status!)));
    expect(await allIds(store(), { protocol: 'GRPC' })).toEqual([]);
    expect(await allIds(store(), { protocol: 'nope' })).toEqual([]);
  });
}

describe('protocol filter: embedded store, query parameters and rrpipe query --protocol', () => {
  const t = tmpDir();
  let store: EmbeddedStore;
  beforeAll(() => {
    store = new EmbeddedStore({ path: join(t.dir, 'p.db'), storeRRPair: false });
    store.write(toRecords(rrs));
  });
  afterAll(async () => {
    await store.close();
    t.cleanup();
  });
  checks(() => store);

  it('the HTTP parameters carry protocol as an exact value', () => {
    expect(filterFromParams({ protocol: 'grpc', service: 'orders' })).toEqual({ protocol: 'grpc', service: 'orders' });
    expect(filterFromParams({ protocol: '' })).toEqual({});
  });

  it('rrpipe query --protocol prints exactly the matching records', async () => {
    const cfg = writeConfig(t.dir, 'p.yaml', `exporters:\n  embedded:\n    path: ${join(t.dir, 'p.db')}\n`);
    const r = await runCli(['query', '-c', cfg, '--store', 'embedded', '--start', '-3h', '--protocol', 'postgres', '--limit', '0', '--output', 'jsonl'], t.dir);
    expect(r.code, r.err).toBe(0);
    const got = r.out.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(got).toEqual(want((r2) => r2.l7protocol === 'postgres' && Date.parse(r2.ts!) >= NOW - 3 * H));
  });
});

for (const flavor of ['opensearch', 'elasticsearch'] as Flavor[]) {
  describe(`protocol filter: ${flavor} (wire fake)`, () => {
    const t = tmpDir();
    let fake: SearchEngineFake;
    let exp: SearchExporter;
    beforeAll(async () => {
      fake = await startSearchEngineFake({ flavor });
      exp = await exporterFromYaml<SearchExporter>(`exporters:\n  ${flavor}:\n    endpoint: ${fake.url}\n    mapping: { mode: rrpipe }\n    sending_queue: { enabled: false }\n`, flavor);
      await exp.start(testHost(join(t.dir, 'data')));
      await exp.consume(toRecords(rrs), {});
    });
    afterAll(async () => {
      await exp?.shutdown(AbortSignal.timeout(5000));
      await fake?.close();
      expect(fake.unsupported).toEqual([]);
      t.cleanup();
    });
    checks(() => exp);
  });
}
