import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExporterFactory } from '../../src/core/component.js';
import type { QueryableStore } from '../../src/core/query.js';
import type { RRRecord } from '../../src/core/record.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import { build, chunks, generatedRecords, hugeRecord, queryAll, reference as fullReference, sampleRecords, sendAndDrain, type Built } from '../shortterm2/support.js';
import { withPipeline } from './config.js';
import { runCli } from './proc.js';
import { tmpDir } from './tmp.js';

/**
 * What the shared store suite needs to know about one QueryableStore exporter. Everything is read
 * when a test runs (not when the suite is defined), so a store started in the caller's beforeAll
 * can be used by them.
 */
export interface StoreUnderTest {
  /** The exporter factory (its schema fills the defaults of `config`). */
  factory: ExporterFactory<unknown>;
  /** The exporter's config writing into a fresh table/container/collection named `name`. */
  config(name: string): Record<string, unknown>;
  /** How many RRPairs the store holds under `name`, counted by the store's own admin client. */
  count(name: string): Promise<number>;
  /** Generated RRPairs in the round trip (the samples are always sent too). */
  generated: number;
  /**
   * When set, the filter queries run on their own store holding this many generated RRPairs, not
   * on the round trip's: for a server whose every query scans the whole container.
   */
  filtered?: number;
  /** The store keeps the index document only (no RRPair, no get()): reads are compared with the documents. */
  indexOnly?: boolean;
  /** Records per batch of the round trip. */
  batch?: number;
  /** Page size of the whole-store read (`limit`). */
  pageSize?: number;
  roundTripTimeoutMs?: number;
  /**
   * A record over the store's item limit: an RRPair body of `bytes`, `config` merged into the
   * exporter's (to set the limit), and the dead-letter reason it must get.
   */
  oversize?: { bytes: number; config?: Record<string, unknown>; reason: RegExp };
  /** For `rrpipe query --store <component> --output raw`: the component id and its YAML under `exporters:`. */
  cli?: { component: string; yaml(name: string): string; env?: NodeJS.ProcessEnv };
}

const inNarrow = (h: { doc: { ts: string } }) => h.doc.ts >= '2025-06-02T10:00' && h.doc.ts < '2025-06-02T12:00';
const narrow = { start: new Date('2025-06-02T10:00:00Z'), end: new Date('2025-06-02T12:00:00Z') };

/**
 * The behaviour every short-term store shares, as one describe block: the samples and generated
 * RRPairs written and read back equal through query() with every filter (each store translates
 * them to its own keys and indexes), get() by id, a replayed batch that duplicates nothing, and
 * `rrpipe query --output raw` / `--output jsonl` from the CLI. Call it inside the describe that
 * starts the store.
 */
export function storeConformance(title: string, s: StoreUnderTest): void {
  describe(`${title}: store conformance`, () => {
    const reference: Reference = (records, pred) => fullReference(records, pred).map((h) => (s.indexOnly ? { doc: h.doc } : h));
    it(`writes the samples and ${s.generated} generated RRPairs, reads back exactly the reference through query()${s.filtered === undefined ? ' with every filter' : ''}; a replayed batch duplicates nothing`, async () => {
      const b = await build(s.factory, s.config('conf'));
      try {
        const samples = sampleRecords();
        const gen = generatedRecords(s.generated);
        await sendAndDrain(b, [...chunks(samples, 40), ...chunks(gen, s.batch ?? 1000)]);
        expect(await s.count('conf')).toBe(samples.length + gen.length);
        // A replayed batch (generated and samples) overwrites the same items.
        await sendAndDrain(b, [gen.slice(0, 1000), samples]);
        expect(await s.count('conf')).toBe(samples.length + gen.length);
        expect(await queryAll(b.component, { limit: s.pageSize ?? 1000 })).toEqual(reference([...samples, ...gen]));

        if (s.filtered === undefined) await expectEveryFilter(b.component, samples, gen, reference);

        if (!s.indexOnly) {
          const one = samples[1]!;
          expect(await b.component.get!(indexDocOf(one).id)).toEqual(one.rrpair);
          expect(await b.component.get!('missing')).toBeUndefined();
        }
        expect(await b.host.deadLetters()).toEqual([]);
      } finally {
        await b.stop();
      }
    }, s.roundTripTimeoutMs ?? 600_000);

    if (s.filtered !== undefined) it(`answers every filter over the samples and ${s.filtered} generated RRPairs exactly as the reference`, async () => {
      const b = await build(s.factory, s.config('filters'));
      try {
        const samples = sampleRecords();
        const gen = generatedRecords(s.filtered!);
        await sendAndDrain(b, [...chunks(samples, 40), ...chunks(gen, s.batch ?? 1000)]);
        await expectEveryFilter(b.component, samples, gen, reference);
      } finally {
        await b.stop();
      }
    }, s.roundTripTimeoutMs ?? 600_000);

    if (s.oversize) it('dead-letters a record over the store\'s item limit with a clear reason and writes the rest of its batch', async () => {
      const o = s.oversize!;
      const b = await build(s.factory, { ...s.config('big'), ...o.config });
      try {
        const recs = generatedRecords(6);
        const huge = hugeRecord(o.bytes);
        await sendAndDrain(b, [[recs[0]!, huge, ...recs.slice(1)]]);
        const dl = await b.host.deadLetters();
        expect(dl).toHaveLength(1);
        expect(dl[0]!.reason).toMatch(o.reason);
        expect(dl[0]!.rrpair.uuid).toBe(huge.rrpair.uuid);
        expect(await queryAll(b.component, {})).toEqual(reference(recs));
      } finally {
        await b.stop();
      }
    });

    // Defined only for a store the CLI reads on its own (an index-only store's --output raw needs its archive).
    if (s.cli) it('rrpipe query --store <id> --output raw prints the RRPairs, with the same filters as the other stores', async () => {
      const cli = s.cli!;
      const b = await build(s.factory, s.config('cli'));
      const dir = tmpDir('rrpipe-store-cli-');
      try {
        const samples = sampleRecords();
        const gen = generatedRecords(300);
        await sendAndDrain(b, [samples, gen]);
        const cfg = join(dir.dir, 'c.yaml');
        writeFileSync(cfg, withPipeline(`exporters:\n  ${cli.component}:\n${cli.yaml('cli').replace(/^/gm, '    ')}\n`));
        const window = ['--start', '2020-01-01T00:00:00Z', '--end', '2030-01-01T00:00:00Z'];
        const out = join(dir.dir, 'raw.jsonl');
        const all = await runCli(['query', '--store', cli.component, '-c', cfg, ...window, '--limit', '0', '--output', 'raw', '--out', out], cli.env);
        expect(all.code, all.stderr).toBe(0);
        expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual(reference([...samples, ...gen]).map((h) => h.rrpair));
        const some = await runCli(['query', '--store', cli.component, '-c', cfg, ...window, '--service', 'users', '--status', '^404$', '--output', 'jsonl'], cli.env);
        expect(some.code, some.stderr).toBe(0);
        expect(some.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(reference(gen, (h) => h.doc.service === 'users' && h.doc.status === '404').map((h) => h.doc));
      } finally {
        await b.stop();
        dir.cleanup();
      }
    }, 180_000);
  });
}

/** Every filter of QueryFilter, each translated by the store to its keys and indexes, against the reference. */
type Reference = typeof fullReference;

async function expectEveryFilter(store: QueryableStore, samples: RRRecord[], gen: RRRecord[], reference: Reference): Promise<void> {
  // service + a window across midnight
  const start = new Date('2025-06-01T23:30:00Z');
  const end = new Date('2025-06-02T00:20:00Z');
  const want = reference(gen, (h) => h.doc.service === 'orders' && h.doc.ts >= '2025-06-01T23:30:00.000' && h.doc.ts < '2025-06-02T00:20:00.000');
  expect(want.length).toBeGreaterThan(50);
  expect(await queryAll(store, { service: 'orders', start, end, limit: 13 })).toEqual(want);
  const wideEnd = new Date('2025-06-02T01:20:00Z');
  const inWide = (h: { doc: { ts: string } }) => h.doc.ts >= '2025-06-01T23:30:00.000' && h.doc.ts < '2025-06-02T01:20:00.000';
  const wide = reference(gen, (h) => h.doc.service === 'orders' && inWide(h));
  expect(wide.length).toBeGreaterThan(100);
  expect(await queryAll(store, { service: 'orders', start, end: wideEnd, limit: 45 })).toEqual(wide);
  // a window and no service
  expect(await queryAll(store, { start, end: wideEnd, limit: 100 })).toEqual(reference(gen, inWide));
  // regexes on method and status, with and without a window
  expect(await queryAll(store, { service: 'payments', method: '^POST$|^PUT$', status: '^(200|404)$', limit: 7 })).toEqual(
    reference(gen, (h) => h.doc.service === 'payments' && ['POST', 'PUT'].includes(h.doc.command) && ['200', '404'].includes(h.doc.status)),
  );
  expect(await queryAll(store, { ...narrow, service: 'payments', method: '^POST$|^PUT$', status: '^(200|404)$', limit: 7 })).toEqual(
    reference(gen, (h) => h.doc.service === 'payments' && ['POST', 'PUT'].includes(h.doc.command) && ['200', '404'].includes(h.doc.status) && inNarrow(h)),
  );
  expect(await queryAll(store, { ...narrow, method: '^DELETE$', status: '^500$' })).toEqual(reference(gen, (h) => h.doc.command === 'DELETE' && h.doc.status === '500' && inNarrow(h)));
  expect(await queryAll(store, { status: '^500$', limit: 50 })).toEqual(reference(gen, (h) => h.doc.status === '500'));
  // endpoint, direction, cluster, namespace
  expect(await queryAll(store, { ...narrow, endpoint: '^/api/users/', direction: 'IN', cluster: 'prod', namespace: 'shop' })).toEqual(
    reference(gen, (h) => h.doc.location.startsWith('/api/users/') && h.doc.direction === 'IN' && inNarrow(h)),
  );
  expect(await queryAll(store, { method: '^DEL', endpoint: '^/api/pay', direction: 'IN' })).toEqual(
    reference(gen, (h) => h.doc.command.startsWith('DEL') && h.doc.location.startsWith('/api/pay') && h.doc.direction === 'IN'),
  );
  expect(await queryAll(store, { service: 'openai-client', namespace: 'samples', limit: 50 })).toEqual(reference(samples));
  expect(await queryAll(store, { cluster: 'c1', namespace: 'samples' })).toEqual(reference(samples));
}

/** After a fault (throttling, a cut connection): every record read back once, the store's own count exact, nothing dead-lettered. */
export async function expectNothingLost(b: Built<unknown>, recs: RRRecord[], count: () => Promise<number>): Promise<void> {
  expect(await queryAll(b.component, { limit: 1000 })).toEqual(fullReference(recs));
  expect(await count()).toBe(recs.length);
  expect(await b.host.deadLetters()).toEqual([]);
}
