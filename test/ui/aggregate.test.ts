import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregateSpec, Aggregates, QueryFilter, QueryableStore } from '../../src/core/query.js';
import { EmbeddedStore } from '../../src/exporters/embedded/store.js';
import type { SearchExporter } from '../../src/exporters/internal/searchengine/index.js';
import { aggregate, aggregateByScan, SORT_FIELDS, sortedPage } from '../../src/extensions/query_api/ui/scan.js';
import { queryable } from '../../src/helpers/hot-store.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { FakeKusto, startSearchEngineFake, testHost, tmpDir, type Flavor, type SearchEngineFake } from '../support/index.js';
import { exporterFromYaml, genRRPairs, loadSamples, toRecords } from '../shortterm/support.js';
import { adxStoreOn } from '../shortterm2/support.js';

// Store-side aggregation (SQL GROUP BY in the embedded store, search aggregations in the engines)
// gives exactly what folding every matching document gives (the generic fallback); so do the
// embedded store's own sorted pages (ORDER BY … LIMIT … OFFSET) and the scan's top rows.
const NOW = Date.parse('2026-01-05T12:00:00.000Z');
const H = 3_600_000;
const PROTOCOLS = ['http', 'grpc', 'postgres', ''];
// Statuses the error rule has to get right: HTTP codes, gRPC / database names in any case, empty, zero-padded.
const STATUSES = ['OK', 'ok', 'Success', 'Unavailable', 'INTERNAL', '', '0503', '499', '500', '1000'];
const rrs: RRPair[] = [
  ...loadSamples(),
  ...genRRPairs(700, NOW, 2 * H, 41).map((r, i) => ({
    ...r,
    l7protocol: PROTOCOLS[Math.floor(i / 3) % 4]!,
    ...(i % 4 === 0 ? { status: STATUSES[Math.floor(i / 4) % STATUSES.length]! } : {}),
    // IN calls of one host answered by two services: the map picks the one answering most
    ...(i % 9 === 0 ? { http: { ...r.http, req: { ...r.http!.req, host: 'shared.svc' } } } : {}),
  })),
];

const W = { start: new Date(NOW - 3 * H), end: new Date(NOW + 1000) };
const SAMPLES_W = { start: new Date('2025-03-18T00:00:00Z'), end: new Date('2025-03-19T00:00:00Z') };
const cases: [string, QueryFilter, AggregateSpec][] = [
  ['the whole window, 80 buckets', W, { histogram: { start: W.start.getTime(), stepMs: Math.ceil((3 * H + 1000) / 80), buckets: 80 }, groups: true }],
  ['the samples day, 37 uneven buckets', SAMPLES_W, { histogram: { start: SAMPLES_W.start.getTime(), stepMs: Math.ceil(86_400_000 / 37), buckets: 37 }, groups: true }],
  ['one service and a status regex', { ...W, service: 'orders', status: '^[45]' }, { histogram: { start: W.start.getTime(), stepMs: 60_000, buckets: 200 }, groups: true }],
  ['one protocol, buckets narrower than the window', { ...W, protocol: 'grpc' }, { histogram: { start: NOW - H, stepMs: 90_000, buckets: 20 }, groups: true }],
  ['no filter at all', {}, { groups: true }],
  ['nothing matches', { ...W, service: 'nobody' }, { histogram: { start: W.start.getTime(), stepMs: 1000, buckets: 5 }, groups: true }],
];

/** Groups in one order, so two answers compare whatever order each store returned them in. */
function canonical(a: Aggregates): Aggregates {
  const key = (g: NonNullable<Aggregates['groups']>[number]) => [g.service, g.direction, g.host, g.l7protocol].join('\u0000');
  return { ...a, ...(a.groups ? { groups: [...a.groups].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0)) } : {}) };
}

function suite(name: string, open: () => Promise<{ store: QueryableStore; close(): Promise<void> }>, sorts = false) {
  describe(`store-side aggregation: ${name}`, () => {
    let s: { store: QueryableStore; close(): Promise<void> };
    beforeAll(async () => {
      s = await open();
    });
    afterAll(async () => {
      await s?.close();
    });
    const scanOnly = (): QueryableStore => ({ query: (f, o) => s.store.query(f, o) });
    for (const [what, filter, spec] of cases) {
      it(`equals the scan: ${what}`, async () => {
        const o = { timeoutMs: 30_000, maxDocs: 1_000_000 };
        const native = await aggregate(s.store, filter, spec, o);
        const scanned = await aggregate(scanOnly(), filter, spec, o);
        expect(native.native).toBe(true);
        expect(scanned.native).toBe(false);
        expect(canonical(native)).toEqual({ ...canonical(scanned), native: true });
        if (what === 'nothing matches') expect(native.total).toBe(0);
        else expect(native.total).toBeGreaterThan(10);
        if (spec.histogram) expect(native.histogram!.errors.reduce((a, b) => a + b, 0)).toBe(native.groups!.reduce((a, g) => a + g.errors, 0));
      });
    }
    if (sorts) it('sorts pages by every column as the scan does: same rows, same total, pages joined without overlap', async () => {
      const o = { timeoutMs: 30_000, maxDocs: 1_000_000 };
      const f = { ...W, direction: 'IN' as const };
      for (const field of SORT_FIELDS) {
        for (const desc of [false, true]) {
          const native = await sortedPage(s.store, f, field, desc, 40, 90, o);
          const scanned = await sortedPage(scanOnly(), f, field, desc, 40, 90, o);
          expect(native.native).toBe(true);
          expect(native.rows.map((d) => d.id), `${field} ${desc ? 'desc' : 'asc'}`).toEqual(scanned.rows.map((d) => d.id));
          expect(native.rows).toEqual(scanned.rows);
          expect(native.total).toBe(scanned.total);
        }
      }
      const ids: string[] = [];
      let total = 0;
      for (let off = 0; off < 1000; off += 77) {
        const p = await sortedPage(s.store, f, 'status', true, off, 77, o);
        ids.push(...p.rows.map((d) => d.id));
        total = p.total;
      }
      expect(total).toBeGreaterThan(300);
      expect(ids.length).toBe(total);
      expect(new Set(ids).size).toBe(total);
    });
    it('counts errors by the same rule as isErrorStatus, on the generated statuses', async () => {
      const a = await aggregateByScan(scanOnly(), W, { groups: true }, { timeoutMs: 30_000, maxDocs: 1_000_000 });
      const statuses = toRecords(rrs).map(indexDocOf).filter((d) => d.ts >= W.start.toISOString().slice(0, 19)).map((d) => d.status);
      const want = statuses.filter((s) => (/^\d+$/.test(s) ? Number(s) >= 500 : s !== '' && !/^(ok|success)$/i.test(s))).length;
      expect(new Set(statuses)).toEqual(new Set([...STATUSES.filter(Boolean), '200', '201', '204', '400', '404', '503']));
      expect(want).toBeGreaterThan(50);
      expect(a.groups!.reduce((n, g) => n + g.errors, 0)).toBe(want);
    });
  });
}

suite('embedded (SQLite GROUP BY and ORDER BY in the query worker)', async () => {
  const t = tmpDir();
  const store = new EmbeddedStore({ path: join(t.dir, 'agg.db'), storeRRPair: false });
  store.write(toRecords(rrs));
  return { store, close: async () => { await store.close(); t.cleanup(); } };
}, true);

for (const flavor of ['opensearch', 'elasticsearch'] as Flavor[]) {
  suite(`${flavor} (wire fake: date_histogram, terms, filter)`, async () => {
    const t = tmpDir();
    const fake: SearchEngineFake = await startSearchEngineFake({ flavor });
    const exp = await exporterFromYaml<SearchExporter>(`exporters:\n  ${flavor}:\n    endpoint: ${fake.url}\n    mapping: { mode: rrpipe }\n    sending_queue: { enabled: false }\n`, flavor);
    await exp.start(testHost(join(t.dir, 'data')));
    await exp.consume(toRecords(rrs), {});
    return {
      store: exp,
      close: async () => {
        await exp.shutdown(AbortSignal.timeout(5000));
        await fake.close();
        expect(fake.unsupported).toEqual([]);
        t.cleanup();
      },
    };
  });
}

suite('azuredataexplorer (Kusto wire fake: summarize count(), countif() by bin and by group; a replayed batch counted once)', async () => {
  const kusto = new FakeKusto();
  await kusto.start();
  const store = await adxStoreOn(kusto);
  const records = toRecords(rrs);
  for (let i = 0; i < records.length; i += 200) await store.push(records.slice(i, i + 200));
  await store.push(records.slice(0, 150)); // ingested twice: Kusto keeps both rows, the store counts each id once
  return {
    store,
    close: async () => {
      await store.shutdown();
      await kusto.stop();
    },
  };
}, true);

describe('queryable(): the exporter component a store is wrapped in', () => {
  const component = { start: async () => {}, shutdown: async () => {}, consume: async () => {} };
  const page = async () => ({ hits: [] });
  it("hands the store's aggregate and sortedPage on, with their arguments and answers", async () => {
    const seen: unknown[] = [];
    const counted: Aggregates = { total: 7, truncated: false };
    const c = queryable(component, {
      query: page,
      aggregate: async (f, spec, o) => (seen.push(['aggregate', f, spec, o]), counted),
      sortedPage: async (f, sort, o) => (seen.push(['sortedPage', f, sort, o]), { rows: [], total: 3 }),
    });
    const signal = AbortSignal.timeout(1000);
    expect(await c.aggregate!({ service: 'a' }, { groups: true }, { signal })).toBe(counted);
    expect(await c.sortedPage!({ service: 'b' }, { field: 'status', desc: true, offset: 5, limit: 9 }, { signal })).toEqual({ rows: [], total: 3 });
    expect(seen).toEqual([
      ['aggregate', { service: 'a' }, { groups: true }, { signal }],
      ['sortedPage', { service: 'b' }, { field: 'status', desc: true, offset: 5, limit: 9 }, { signal }],
    ]);
  });
  it('has neither when the store has neither, so the explorer scans', async () => {
    const c = queryable(component, { query: page });
    expect('aggregate' in c || 'sortedPage' in c).toBe(false);
    expect((await aggregate(c, {}, { groups: true }, { timeoutMs: 1000, maxDocs: 10 })).native).toBe(false);
  });
});
