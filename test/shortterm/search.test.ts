import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/net.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { noopMetrics, Telemetry } from '../../src/core/telemetry.js';
import type { SearchExporter, SearchExporterConfig } from '../../src/exporters/internal/searchengine/index.js';
import { toLuceneRegex } from '../../src/exporters/internal/searchengine/index.js';
import { withPipeline, luceneRegex, missing, startSearchEngineFake, testHost, tmpDir, type FakeOptions, type Flavor, type SearchEngineFake } from '../support/index.js';
import { genRRPairs, loadSamples, reference, runCli, toRecords, writeConfig, type RefFilter } from './support.js';
import { tsNanos } from '../../src/rrpair/otlp.js';
import type { RRPair } from '../../src/rrpair/types.js';

const NOW = Date.now();
const H = 3_600_000;

async function makeExporter(yaml: string, id: string, dir: string, telemetry = new Telemetry({ processMetrics: false })): Promise<{ exp: SearchExporter; telemetry: Telemetry; file: string }> {
  const file = writeConfig(dir, `${id.replace('/', '_')}-${Math.random().toString(36).slice(2)}.yaml`, yaml);
  const cfg = await loadConfig([file], { registry: await builtinRegistry(), texts: { [file]: withPipeline(yaml) } });
  const c = cfg.components.exporters.get(id)!;
  const exp = (await (c.factory as ExporterFactory).create({
    id, kind: 'exporter', config: c.config as unknown as SearchExporterConfig, logger: silentLogger(), metrics: telemetry.forComponent(id, 'exporter'), configDir: cfg.configDir,
  })) as SearchExporter;
  return { exp, telemetry, file };
}

const FAST_RETRY = `    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 5s, randomization_factor: 0 }\n`;

for (const flavor of ['opensearch', 'elasticsearch'] as Flavor[]) {
  describe(`${flavor} exporter against the wire fake`, () => {
    const t = tmpDir();
    const samples = loadSamples();
    const generated = genRRPairs(500, NOW, 2 * H, flavor === 'opensearch' ? 11 : 12);
    const all = [...samples, ...generated];
    let fake: SearchEngineFake;
    let cfgFile = '';

    beforeAll(async () => {
      fake = await startSearchEngineFake({ flavor, auth: { basic: { username: 'rr', password: 'secret' } } });
      const yaml = `exporters:\n  ${flavor}/hot:\n    endpoint: ${fake.url}\n    user: rr\n    password: secret\n    mapping: { mode: rrpipe, store_rrpair: true }\n    flush: { max_docs: 64 }\n    sending_queue: { enabled: false }\n${FAST_RETRY}service:\n  data_dir: ${t.dir}/data\n`;
      const { exp, file } = await makeExporter(yaml, `${flavor}/hot`, t.dir);
      cfgFile = file;
      await exp.start(testHost(join(t.dir, 'data')));
      const recs = toRecords(all);
      for (let i = 0; i < recs.length; i += 150) await exp.consume(recs.slice(i, i + 150), {});
      await exp.consume(recs.slice(0, 40), {}); // again: create is idempotent
      await exp.shutdown(AbortSignal.timeout(5000));
    });
    afterAll(async () => {
      await fake.close();
      t.cleanup();
    });

    it('creates an index template with explicit mappings and a 7-day retention policy', () => {
      const tpl = fake.templates.get('rrpipe-rrpairs') as { index_patterns: string[]; template: { mappings: { properties: Record<string, { type: string }> }; settings: Record<string, unknown> } };
      expect(tpl.index_patterns).toEqual(['rrpipe-rrpairs-*']);
      const p = tpl.template.mappings.properties;
      for (const k of ['service', 'namespace', 'cluster', 'direction', 'command', 'location', 'status', 'id']) expect(p[k]!.type).toBe('keyword');
      expect(p.ts!.type).toBe('date_nanos');
      for (const k of ['duration', 'req_size', 'res_size']) expect(p[k]!.type).toBe('long');
      expect(p.rrpair).toEqual({ type: 'object', enabled: false });
      if (flavor === 'elasticsearch') {
        expect(tpl.template.settings['index.lifecycle.name']).toBe('rrpipe-rrpairs-retention');
        expect(fake.ilmPolicies.get('rrpipe-rrpairs-retention')).toMatchObject({ phases: { delete: { min_age: '7d', actions: { delete: {} } } } });
      } else {
        const pol = fake.ismPolicies.get('rrpipe-rrpairs-retention')!.policy as { states: { name: string; transitions: { conditions: unknown }[] }[]; ism_template: { index_patterns: string[] }[] };
        expect(pol.states[0]!.transitions[0]!.conditions).toEqual({ min_index_age: '7d' });
        expect(pol.ism_template[0]!.index_patterns).toEqual(['rrpipe-rrpairs-*']);
      }
    });

    it('indexes every record once, under its record id, in the daily index of its event time', () => {
      const docs = fake.docs('rrpipe-rrpairs-*');
      expect(docs.length).toBe(all.length);
      const byId = new Map(docs.map((d) => [d.id, d]));
      for (const rr of all) {
        const d = byId.get(rr.uuid!)!;
        expect(d.index).toBe(`rrpipe-rrpairs-${rr.ts!.slice(0, 10).replace(/-/g, '.')}`);
        expect(d.source.rrpair).toEqual(rr);
      }
      expect(fake.unsupported).toEqual([]);
    });

    it(`sends what the official ${flavor} client sends (ndjson bulk${flavor === 'elasticsearch' ? ', compatible-with=8 media types' : ''})`, () => {
      const bulk = fake.requests.find((r) => r.path === '/_bulk')!;
      if (flavor === 'elasticsearch') {
        expect(bulk.headers['content-type']).toBe('application/vnd.elasticsearch+x-ndjson; compatible-with=8');
        expect(String(bulk.headers.accept)).toContain('application/vnd.elasticsearch+json; compatible-with=8');
      } else {
        expect(bulk.headers['content-type']).toBe('application/x-ndjson');
      }
      expect(bulk.headers.authorization).toBe(`Basic ${Buffer.from('rr:secret').toString('base64')}`);
    });

    const cases: [string, string[], RefFilter][] = [
      ['time window', ['--start', '-3h'], { start: NOW - 3 * H }],
      ['start and end', ['--start', new Date(NOW - 100 * 60_000).toISOString(), '--end', new Date(NOW - 20 * 60_000).toISOString()], { start: NOW - 100 * 60_000, end: NOW - 20 * 60_000 }],
      ['service', ['--start', '-3h', '--service', 'inventory'], { start: NOW - 3 * H, service: 'inventory' }],
      ['namespace', ['--start', '-3h', '--namespace', 'shop'], { start: NOW - 3 * H, namespace: 'shop' }],
      ['direction', ['--start', '-3h', '--direction', 'OUT'], { start: NOW - 3 * H, direction: 'OUT' }],
      ['method', ['--start', '-3h', '--method', 'PUT|DELETE'], { start: NOW - 3 * H, method: 'PUT|DELETE' }],
      ['status', ['--start', '-3h', '--status', '^4\\d\\d$'], { start: NOW - 3 * H, status: '^4\\d\\d$' }],
      ['endpoint', ['--start', '-3h', '--endpoint', '/items/\\d+/stock'], { start: NOW - 3 * H, endpoint: '/items/\\d+/stock' }],
      ['several', ['--start', '-3h', '--service', 'orders', '--method', '^(GET|POST)$', '--status', '^2'], { start: NOW - 3 * H, service: 'orders', method: '^(GET|POST)$', status: '^2' }],
      ['samples', ['--start', '2025-03-18T00:00:00Z', '--end', '2025-03-19T00:00:00Z', '--endpoint', 'fine_tuning/jobs'], { start: Date.parse('2025-03-18T00:00:00Z'), end: Date.parse('2025-03-19T00:00:00Z'), endpoint: 'fine_tuning/jobs' }],
    ];
    for (const [name, args, ref] of cases) {
      it(`rrpipe query --store ${flavor}/hot: ${name}`, async () => {
        const want = reference(all, ref);
        expect(want.length).toBeGreaterThan(0);
        // --limit 0 pages with search_after through pages of 1000; a small page size is tested below.
        const r = await runCli(['query', '-c', cfgFile, '--store', `${flavor}/hot`, ...args, '--limit', '0', '--output', 'jsonl'], t.dir);
        expect(r.err).not.toMatch(/rrpipe query:/);
        expect(r.code).toBe(0);
        expect(r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).id)).toEqual(want);
        expect(fake.unsupported).toEqual([]);
      });
    }

    it('_count through the official client agrees with the reference', async () => {
      const query = { bool: { filter: [{ term: { service: 'orders' } }, { range: { ts: { gte: new Date(NOW - 3 * H).toISOString() } } }] } };
      let n: number;
      if (flavor === 'elasticsearch') {
        const { Client } = await import('@elastic/elasticsearch');
        const c = new Client({ node: fake.url, auth: { username: 'rr', password: 'secret' } });
        n = (await c.count({ index: 'rrpipe-rrpairs-*', query })).count;
        await c.close();
      } else {
        const { Client } = await import('@opensearch-project/opensearch');
        const c = new Client({ node: fake.url, auth: { username: 'rr', password: 'secret' } });
        n = ((await c.count({ index: 'rrpipe-rrpairs-*', body: { query } })).body as { count: number }).count;
        await c.close();
      }
      expect(n).toBe(reference(all, { start: NOW - 3 * H, service: 'orders' }).length);
    });

    it('pages with search_after without gaps or repeats, and --output raw returns the stored RRPairs', async () => {
      const { factory } = flavor === 'opensearch' ? await import('../../src/exporters/opensearch/index.js') : await import('../../src/exporters/elasticsearch/index.js');
      const cfg = await loadConfig([cfgFile], { registry: await builtinRegistry() });
      const c = cfg.components.exporters.get(`${flavor}/hot`)!;
      const store = await factory.openReader({ id: `${flavor}/hot`, kind: 'exporter', config: c.config as unknown as SearchExporterConfig, logger: silentLogger(), metrics: noopMetrics(), configDir: cfg.configDir }, { dataDir: t.dir });
      const ids: string[] = [];
      let after: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await store.query({ start: new Date(NOW - 3 * H), limit: 7, ...(after ? { after } : {}) });
        ids.push(...page.hits.map((h: { doc: { id: string } }) => h.doc.id));
        if (!page.next) break;
        after = page.next;
      }
      expect(await store.get!(generated[3]!.uuid!)).toEqual(generated[3]);
      expect(await store.get!('no-such-id')).toBeUndefined();
      await store.close();
      expect(ids).toEqual(reference(all, { start: NOW - 3 * H }));
      const raw = await runCli(['query', '-c', cfgFile, '--store', `${flavor}/hot`, '--start', '-3h', '--service', 'payments', '--limit', '25', '--output', 'raw'], t.dir);
      expect(raw.code).toBe(0);
      const got = raw.out.trim().split('\n').map((l) => JSON.parse(l));
      const want = reference(all, { start: NOW - 3 * H, service: 'payments' }).slice(0, 25);
      expect(got.map((g) => g.uuid)).toEqual(want);
      const byId = new Map(generated.map((g) => [g.uuid, g]));
      for (const g of got) expect(g).toEqual(byId.get(g.uuid));
    });
  });

  describe(`${flavor}: partial bulk failure`, () => {
    const t = tmpDir();
    afterAll(() => t.cleanup());

    it('retries only the 429 items, dead-letters the mapping errors, and the counts add up', async () => {
      const rrs = genRRPairs(300, NOW, H, 21);
      const busy = new Set(rrs.filter((_, i) => i % 7 === 3).map((r) => r.uuid!));
      const bad = new Set(rrs.filter((_, i) => i % 11 === 5 && !busy.has(r(i))).map((x) => x.uuid!));
      function r(i: number) {
        return rrs[i]!.uuid!;
      }
      const attempts = new Map<string, number>();
      const hook: FakeOptions['bulkHook'] = (item) => {
        const id = item.id!;
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        if (busy.has(id) && n <= 2) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' };
        if (bad.has(id)) return { status: 400, type: flavor === 'elasticsearch' ? 'document_parsing_exception' : 'mapper_parsing_exception', reason: "failed to parse field [duration] of type [long] in document" };
        return undefined;
      };
      const fake = await startSearchEngineFake({ flavor, bulkHook: hook });
      try {
        const yaml = `exporters:\n  ${flavor}:\n    endpoint: ${fake.url}\n    mapping: { mode: rrpipe }\n    flush: { max_docs: 50 }\n    dead_letter: { path: ${t.dir}/dlq }\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
        const { exp, telemetry } = await makeExporter(yaml, flavor, t.dir);
        await exp.start(testHost(t.dir));
        await exp.consume(toRecords(rrs), {});
        await exp.shutdown(AbortSignal.timeout(5000));

        const docs = fake.docs('rrpipe-rrpairs-*');
        const indexed = new Set(docs.map((d) => d.id));
        expect(docs.length).toBe(indexed.size); // each once
        expect(indexed.size).toBe(rrs.length - bad.size);
        for (const id of busy) {
          expect(indexed.has(id)).toBe(true);
          expect(attempts.get(id)).toBe(3); // two 429s, then accepted; sent alone, not with the whole batch
        }
        for (const rr of rrs) if (!busy.has(rr.uuid!) && !bad.has(rr.uuid!)) expect(attempts.get(rr.uuid!)).toBe(1);
        for (const id of bad) expect(indexed.has(id)).toBe(false);

        const dlqFiles = readdirSync(join(t.dir, 'dlq'));
        const dl = dlqFiles.flatMap((f) => readFileSync(join(t.dir, 'dlq', f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
        expect(new Set(dl.map((e) => e.rrpair.uuid))).toEqual(bad);
        expect(dl[0].reason).toMatch(/parsing_exception: failed to parse field \[duration\]/);

        const sent = await telemetry.total('sent', { component: flavor });
        const dead = await telemetry.total('dead_lettered', { component: flavor });
        expect(sent).toBe(rrs.length - bad.size);
        expect(dead).toBe(bad.size);
        expect(sent + dead).toBe(rrs.length);
      } finally {
        await fake.close();
      }
    });
  });
}

describe('otel mapping mode writes what the OTel Collector elasticsearch exporter writes', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  it('index speedscale-rrpair, fields @timestamp, Body.*, Attributes.service/namespace, Resource.cluster, and is queryable', async () => {
    const fake = await startSearchEngineFake({ flavor: 'elasticsearch', auth: { apiKey: 'aWQ6a2V5' } });
    try {
      const yaml = `exporters:\n  elasticsearch/otel:\n    endpoints: [${fake.url}]\n    api_key: aWQ6a2V5\n    logs_index: speedscale-rrpair\n    mapping: { mode: otel }\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
      const { exp, file } = await makeExporter(yaml, 'elasticsearch/otel', t.dir);
      await exp.start(testHost(t.dir));
      const rrs = genRRPairs(80, NOW, H, 31);
      const samples = loadSamples();
      // The forwarder stamps each LogRecord; @timestamp is that time (the OTel exporter's rule), not the RRPair's ts.
      const stamped = toRecords([...rrs, ...samples]).map((r, i) => ({ ...r, timeUnixNano: tsNanos(i < rrs.length ? r.rrpair.ts : new Date(NOW).toISOString()) }));
      await exp.consume(stamped, {});
      await exp.shutdown(AbortSignal.timeout(5000));
      const docs = fake.docs('speedscale-rrpair');
      expect(docs.length).toBe(rrs.length + samples.length);
      expect(docs.every((d) => d.index === 'speedscale-rrpair')).toBe(true);
      for (const d of docs) {
        expect(Object.keys(d.source).sort()).toEqual(['@timestamp', 'Attributes', 'Body', 'Resource']);
        expect(Object.keys(d.source.Attributes as object).sort()).toEqual(['namespace', 'service']);
        expect(Object.keys(d.source.Resource as object)).toEqual(['cluster']);
      }
      const one = docs.find((d) => d.id === rrs[0]!.uuid)!;
      expect(one.source.Body).toEqual(rrs[0]);
      expect(one.source['@timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      expect(Date.parse(one.source['@timestamp'] as string)).toBe(Date.parse(rrs[0]!.ts!));
      const s5 = docs.find((d) => d.id === samples[5]!.uuid)!;
      expect(Date.parse(s5.source['@timestamp'] as string)).toBe(NOW); // not the sample's own (old) ts
      expect(one.source.Attributes).toEqual({ service: rrs[0]!.service, namespace: rrs[0]!.namespace });
      expect(one.source.Resource).toEqual({ cluster: 'test-cluster' });
      // Samples carry service "undefined" in the body: the attribute is then empty, never "undefined".
      const s = docs.find((d) => d.id === samples[0]!.uuid)!;
      expect((s.source.Attributes as { service: string }).service).toBe('');
      expect(fake.templates.get('speedscale-rrpair')).toBeDefined();
      expect(fake.ilmPolicies.size).toBe(0); // one fixed index: no deleting policy
      const { factory } = await import('../../src/exporters/elasticsearch/index.js');
      const cfg = await loadConfig([file], { registry: await builtinRegistry() });
      const reader = await factory.openReader({ id: 'elasticsearch/otel', kind: 'exporter', config: cfg.components.exporters.get('elasticsearch/otel')!.config as unknown as SearchExporterConfig, logger: silentLogger(), metrics: noopMetrics(), configDir: t.dir }, { dataDir: t.dir });
      expect(await reader.get!(samples[5]!.uuid!)).toEqual(samples[5]); // GET /speedscale-rrpair/_doc/<id>
      await reader.close();
      expect(fake.requests.some((r) => r.method === 'GET' && r.path === `/speedscale-rrpair/_doc/${samples[5]!.uuid}`)).toBe(true);

      const q = await runCli(['query', '-c', file, '--store', 'elasticsearch/otel', '--start', '-2h', '--service', 'orders', '--status', '^5', '--limit', '0', '--output', 'raw'], t.dir);
      expect(q.code).toBe(0);
      const got = q.out.trim().split('\n').map((l) => JSON.parse(l));
      expect(got.map((g) => g.uuid)).toEqual(reference(rrs, { start: NOW - 2 * H, service: 'orders', status: '^5' }));
      expect(fake.unsupported).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

describe('opensearch unconfigured writes what the OTel Collector opensearch exporter writes (ss4o)', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  it('index ss4o_logs-default-namespace, ssoRecord keys, body the RRPair JSON; query, get and snapshot read it back', async () => {
    const fake = await startSearchEngineFake({ flavor: 'opensearch' });
    try {
      const yaml = `exporters:\n  opensearch:\n    endpoint: ${fake.url}\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
      const { exp, file } = await makeExporter(yaml, 'opensearch', t.dir);
      await exp.start(testHost(t.dir));
      const rrs = genRRPairs(120, NOW, H, 41);
      const samples = loadSamples();
      // The forwarder stamps each LogRecord: here the generated ones with their ts, every sample with one
      // and the same instant (so paging has to get past 189 documents sharing a @timestamp).
      const stamped = toRecords([...rrs, ...samples]).map((r, i) => ({ ...r, timeUnixNano: i < rrs.length ? tsNanos(r.rrpair.ts) : `${NOW}000123` }));
      stamped[0]!.timeUnixNano = '1742258506221941000';
      const before = Date.now();
      await exp.consume(stamped, {});
      const after = Date.now();
      await exp.shutdown(AbortSignal.timeout(5000));

      const docs = fake.docs('*');
      expect(docs.length).toBe(rrs.length + samples.length);
      expect(new Set(docs.map((d) => d.index))).toEqual(new Set(['ss4o_logs-default-namespace']));
      const bulkActions = fake.requests.filter((r) => r.path === '/_bulk').flatMap((r) => String(r.body).split('\n').filter((_, i) => i % 2 === 0).filter(Boolean).map((l) => Object.keys(JSON.parse(l))[0]));
      expect(new Set(bulkActions)).toEqual(new Set(['create']));
      const byUuid = new Map([...rrs, ...samples].map((rr) => [rr.uuid, rr]));
      for (const d of docs) {
        expect(Object.keys(d.source)).toEqual(['attributes', 'body', 'instrumentationScope', 'observedTimestamp', 'resource', 'severity', '@timestamp']);
        expect(d.source.instrumentationScope).toEqual({});
        expect(d.source.severity).toEqual({});
        expect(d.source.resource).toEqual({ cluster: 'test-cluster' });
        expect(typeof d.source.body).toBe('string');
        const rr = JSON.parse(d.source.body as string) as Record<string, unknown>;
        expect(rr).toEqual(byUuid.get(d.id)); // field by field
        expect(Object.keys(rr)).toEqual(Object.keys(rr).sort()); // Go's encoding/json: keys sorted
        const observed = Date.parse(d.source.observedTimestamp as string);
        expect(observed >= before && observed <= after).toBe(true);
      }
      const first = docs.find((d) => d.id === rrs[0]!.uuid)!;
      expect(first.source['@timestamp']).toBe('2025-03-18T00:41:46.221941Z'); // Go's RFC 3339, trailing zeros dropped
      expect(first.source.attributes).toEqual({ service: rrs[0]!.service, namespace: rrs[0]!.namespace, data_stream: { dataset: 'default', namespace: 'namespace', type: 'record' } });
      const s0 = docs.find((d) => d.id === samples[0]!.uuid)!;
      expect(s0.source['@timestamp']).toBe(`${new Date(NOW).toISOString().slice(0, 23)}000123Z`);
      // Samples carry service "undefined" in the body: no service attribute.
      expect(s0.source.attributes).toEqual({ data_stream: { dataset: 'default', namespace: 'namespace', type: 'record' } });
      const tpl = fake.templates.get('ss4o_logs-default-namespace') as { index_patterns: string[]; template: { mappings: { properties: Record<string, { type?: string }> } } };
      expect(tpl.index_patterns).toEqual(['ss4o_logs-default-namespace']);
      expect(tpl.template.mappings.properties.body!.type).toBe('text');
      expect(tpl.template.mappings.properties['@timestamp']!.type).toBe('date_nanos');
      expect(fake.ismPolicies.size).toBe(0); // one fixed index: no deleting policy

      // The query side reads body back; the filters on body fields (status, method) apply to what it holds.
      const q = await runCli(['query', '-c', file, '--store', 'opensearch', '--start', '-2h', '--service', 'orders', '--status', '^5', '--limit', '0', '--output', 'raw'], t.dir);
      expect(q.code).toBe(0);
      const got = q.out.trim().split('\n').map((l) => JSON.parse(l) as RRPair);
      const want = reference(rrs.slice(1), { start: NOW - 2 * H, service: 'orders', status: '^5' });
      expect(want.length).toBeGreaterThan(0);
      expect(got.map((g) => g.uuid)).toEqual(want);
      for (const g of got) expect(g).toEqual(byUuid.get(g.uuid));
      const { factory } = await import('../../src/exporters/opensearch/index.js');
      const cfg = await loadConfig([file], { registry: await builtinRegistry() });
      const reader = await factory.openReader({ id: 'opensearch', kind: 'exporter', config: cfg.components.exporters.get('opensearch')!.config as unknown as SearchExporterConfig, logger: silentLogger(), metrics: noopMetrics(), configDir: t.dir }, { dataDir: t.dir });
      expect(await reader.get!(samples[5]!.uuid!)).toEqual(samples[5]);
      expect(await reader.get!('no-such-id')).toBeUndefined();
      // Pages of 25 through the 189 samples at one instant: none lost, none twice.
      const ids: string[] = [];
      let next: string | undefined;
      for (let i = 0; i < 50; i++) {
        const page = await reader.query({ start: new Date(NOW - 1000), limit: 25, ...(next ? { after: next } : {}) });
        ids.push(...page.hits.map((h) => h.doc.id));
        if (!page.next) break;
        next = page.next;
      }
      expect(ids.length).toBe(samples.length);
      expect(new Set(ids)).toEqual(new Set(samples.map((r) => r.uuid)));
      await reader.close();
      // rrpipe snapshot --from the store: raw.jsonl of the window, each RRPair equal to what was sent.
      const snap = await runCli(['snapshot', '-c', file, '--from', 'opensearch', '--start', new Date(NOW - 1000).toISOString(), '--end', new Date(NOW + 1000).toISOString()], t.dir);
      expect(snap.code).toBe(0);
      const lines = snap.out.trim().split('\n').map((l) => JSON.parse(l) as RRPair);
      expect(lines.length).toBe(samples.length);
      for (const l of lines) expect(l).toEqual(byUuid.get(l.uuid));
      expect(fake.unsupported).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('dataset, namespace and logs_index name the index as OTel does; mapping.mode otel keeps the elasticsearch shape', async () => {
    const registry = await builtinRegistry();
    const load = async (extra: string) => {
      const yaml = `exporters:\n  opensearch:\n    endpoint: http://127.0.0.1:9200\n${extra}`;
      const cfg = await loadConfig(['c.yaml'], { registry, texts: { 'c.yaml': withPipeline(yaml) } });
      return cfg.components.exporters.get('opensearch')!.config as unknown as SearchExporterConfig;
    };
    const { resolveSettings } = await import('../../src/exporters/internal/searchengine/config.js');
    expect(resolveSettings(await load('    dataset: nginx\n    namespace: prod\n'), undefined, 'opensearch')).toMatchObject({ mode: 'ss4o', index: 'ss4o_logs-nginx-prod', indexMode: 'fixed', dataStream: { dataset: 'nginx', namespace: 'prod' } });
    expect(resolveSettings(await load('    logs_index: rrpairs\n    bulk_action: index\n'), undefined, 'opensearch')).toMatchObject({ index: 'rrpairs', action: 'index' });
    expect(resolveSettings(await load('    mapping: { mode: otel }\n'), undefined, 'opensearch')).toMatchObject({ mode: 'otel', index: 'logs-generic-default' });
    await expect(load('    namespace: ""\n')).rejects.toThrow(/namespace must be specified/);
    // The OTel exporter's http block (confighttp) in place of endpoint and tls.
    const otelStyle = `exporters:\n  opensearch:\n    http:\n      endpoint: https://search.example:9200\n      tls: { insecure_skip_verify: true }\n`;
    const c = (await loadConfig(['h.yaml'], { registry, texts: { 'h.yaml': withPipeline(otelStyle) } })).components.exporters.get('opensearch')!.config as unknown as SearchExporterConfig;
    expect(resolveSettings(c, undefined, 'opensearch')).toMatchObject({ nodes: ['https://search.example:9200'], tls: { rejectUnauthorized: false } });
    await expect(load('    http: { endpoint: http://127.0.0.1:9201 }\n')).rejects.toThrow(/give one of endpoint, endpoints and http.endpoint/);
    await expect(load('    mapping: { mode: ss4o, store_rrpair: true }\n')).rejects.toThrow(/ss4o mode always stores the whole RRPair/);
  });
});

describe('otel mode against an existing, dynamically mapped BYOC index', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  it('query.keyword_suffix: .keyword queries the keyword sub-fields Elasticsearch made', async () => {
    const fake = await startSearchEngineFake({ flavor: 'elasticsearch' });
    try {
      // What Elasticsearch's dynamic mapping makes of the collector's documents: text + .keyword.
      const dyn = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
      const body = Object.fromEntries(['uuid', 'direction', 'command', 'location', 'status', 'service', 'namespace', 'cluster', 'ts'].map((k) => [k, dyn]));
      const res = await fetch(`${fake.url}/speedscale-rrpair`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mappings: { properties: { '@timestamp': { type: 'date' }, Body: { properties: body }, Attributes: { properties: { service: dyn, namespace: dyn } }, Resource: { properties: { cluster: dyn } } } } }),
      });
      expect(res.status).toBe(200);
      const yaml = `exporters:\n  elasticsearch/byoc:\n    endpoints: [${fake.url}]\n    logs_index: speedscale-rrpair\n    mapping: { mode: otel }\n    index_management: { enabled: false }\n    query: { keyword_suffix: .keyword }\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
      const { exp } = await makeExporter(yaml, 'elasticsearch/byoc', t.dir);
      await exp.start(testHost(t.dir));
      const rrs = genRRPairs(60, NOW, H, 91);
      await exp.consume(toRecords(rrs), {});
      const page = await exp.query({ start: new Date(NOW - 2 * H), service: 'frontend', method: 'GET|PUT', limit: 100 });
      await exp.shutdown(AbortSignal.timeout(5000));
      expect(fake.templates.size).toBe(0);
      expect(page.hits.map((h) => h.doc.id)).toEqual(reference(rrs, { start: NOW - 2 * H, service: 'frontend', method: 'GET|PUT' }));
      expect(fake.unsupported).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

describe('auth and index modes', () => {
  const t = tmpDir();
  afterAll(() => t.cleanup());

  for (const service of ['es', 'aoss'] as const) {
    it(`opensearch signs every request with AWS SigV4 (${service === 'es' ? 'managed' : 'serverless'})`, async () => {
      const fake = await startSearchEngineFake({ flavor: 'opensearch', auth: { sigv4: { region: 'eu-west-1', service, accessKeyId: 'AKIDTEST' } } });
      const saved = { ...process.env };
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1' });
      delete process.env.AWS_PROFILE;
      try {
        const yaml = `exporters:\n  opensearch:\n    endpoint: ${fake.url}\n    aws_sigv4: { enabled: true, region: eu-west-1, service: ${service} }\n    index_mode: data_stream\n    index: rrpairs-ds\n    mapping: { mode: rrpipe }\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
        const { exp } = await makeExporter(yaml, 'opensearch', t.dir);
        await exp.start(testHost(t.dir));
        const rrs = genRRPairs(40, NOW, H, 41);
        await exp.consume(toRecords(rrs), {});
        const page = await exp.query({ start: new Date(NOW - 2 * H), direction: 'IN', limit: 100 });
        await exp.shutdown(AbortSignal.timeout(5000));
        expect(fake.dataStreams.get('rrpairs-ds')).toEqual(['.ds-rrpairs-ds-000001']);
        const docs = fake.docs('rrpairs-ds');
        expect(docs.length).toBe(40);
        expect(docs[0]!.source['@timestamp']).toBe(docs[0]!.source.ts);
        expect(page.hits.map((h) => h.doc.id)).toEqual(reference(rrs, { start: NOW - 2 * H, direction: 'IN' }));
        expect(fake.requests.length).toBeGreaterThan(3);
        for (const r of fake.requests) {
          expect(String(r.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\//);
          expect(r.headers['content-encoding']).toBeUndefined(); // signed bodies go uncompressed
        }
        expect(fake.unsupported).toEqual([]);
      } finally {
        process.env = saved;
        await fake.close();
      }
    });
  }

  describe.skipIf(missing('openssl', 'apt-get install openssl'))('TLS with a private CA', () => {
    it('trusts the server through tls.ca_file, and refuses it without', async () => {
      const { execFileSync } = await import('node:child_process');
      const d = t.dir;
      const run = (args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=rrpipe test CA']);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
      writeConfig(d, 'ext.cnf', 'subjectAltName=IP:127.0.0.1\n');
      run(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf']);
      const fake = await startSearchEngineFake({ flavor: 'elasticsearch', tls: { key: readFileSync(join(d, 'srv.key')), cert: readFileSync(join(d, 'srv.crt')) } });
      try {
        const base = `exporters:\n  elasticsearch:\n    endpoint: ${fake.url}\n    mapping: { mode: rrpipe }\n    sending_queue: { enabled: false }\n    dead_letter: { path: ${d}/dlq-tls }\n    retry_on_failure: { enabled: false }\n`;
        const ok = await makeExporter(`${base}    tls: { ca_file: ${d}/ca.crt }\n`, 'elasticsearch', d);
        await ok.exp.start(testHost(d));
        await ok.exp.consume(toRecords(genRRPairs(10, NOW, H, 81)), {});
        await ok.exp.shutdown(AbortSignal.timeout(5000));
        expect(fake.docs('rrpipe-rrpairs-*').length).toBe(10);
        const bad = await makeExporter(`${base}    index_management: { enabled: false }\n`, 'elasticsearch', d);
        await bad.exp.start(testHost(d));
        await bad.exp.consume(toRecords(genRRPairs(4, NOW, H, 82)), {});
        await bad.exp.shutdown(AbortSignal.timeout(5000));
        expect(await bad.telemetry.total('dead_lettered', { component: 'elasticsearch' })).toBe(4);
        expect(fake.docs('rrpipe-rrpairs-*').length).toBe(10);
      } finally {
        await fake.close();
      }
    });
  });

  it('wrong credentials are a permanent failure: the batch is dead-lettered, not retried forever', async () => {
    const fake = await startSearchEngineFake({ flavor: 'elasticsearch', auth: { basic: { username: 'rr', password: 'right' } } });
    try {
      const yaml = `exporters:\n  elasticsearch:\n    endpoint: ${fake.url}\n    user: rr\n    password: wrong\n    index_management: { enabled: false }\n    dead_letter: { path: ${t.dir}/dlq-auth }\n    sending_queue: { enabled: false }\n${FAST_RETRY}`;
      const { exp, telemetry } = await makeExporter(yaml, 'elasticsearch', t.dir);
      await exp.start(testHost(t.dir));
      await exp.consume(toRecords(genRRPairs(5, NOW, H, 51)), {});
      await exp.shutdown(AbortSignal.timeout(5000));
      expect(await telemetry.total('dead_lettered', { component: 'elasticsearch' })).toBe(5);
      expect(fake.requests.filter((r) => r.path === '/_bulk').length).toBe(0); // 401s are refused before they are logged
    } finally {
      await fake.close();
    }
  });

  for (const flavor of ['elasticsearch', 'opensearch'] as Flavor[]) {
    it(`${flavor}: a server that refuses connections (not up yet) is retried, not dead-lettered; the batch lands once it is up`, async () => {
      const port = await freePort(); // nothing listens there: ECONNREFUSED
      const yaml = `exporters:\n  ${flavor}:\n    endpoint: http://127.0.0.1:${port}\n    index_management: { enabled: false }\n    mapping: { mode: rrpipe }\n    dead_letter: { path: ${t.dir}/dlq-down-${flavor} }\n    sending_queue: { enabled: false }\n    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms, max_elapsed_time: 60s, randomization_factor: 0 }\n`;
      const { exp, telemetry } = await makeExporter(yaml, flavor, t.dir);
      await exp.start(testHost(t.dir));
      let done = false;
      const sent = exp.consume(toRecords(genRRPairs(5, NOW, H, 61)), {}).finally(() => (done = true));
      // two refused attempts, or (unfixed) the batch given up after the first
      while (!done && (await telemetry.total('failed', { component: flavor })) < 10) await new Promise((r) => setImmediate(r));
      expect(await telemetry.total('dead_lettered', { component: flavor })).toBe(0);
      expect(await telemetry.total('failed', { component: flavor })).toBeGreaterThanOrEqual(10);
      const fake = await startSearchEngineFake({ flavor, port });
      try {
        await sent;
        await exp.shutdown(AbortSignal.timeout(5000));
        expect(fake.docs('rrpipe-rrpairs-*').length).toBe(5);
        expect(await telemetry.total('dead_lettered', { component: flavor })).toBe(0);
      } finally {
        await fake.close();
      }
    });
  }

  it('the fake refuses what it does not implement, loudly', async () => {
    const fake = await startSearchEngineFake({ flavor: 'opensearch' });
    try {
      const res = await fetch(`${fake.url}/_cat/indices`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('fake_unsupported_request');
      const q = await fetch(`${fake.url}/x/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: { fuzzy: { a: 'b' } } }) });
      expect(q.status).toBeGreaterThanOrEqual(400);
      expect(fake.unsupported.length).toBe(1);
    } finally {
      await fake.close();
    }
  });
});

describe('JS regex filters become Lucene regexps that select the same values', () => {
  const values = ['GET', 'POST', 'PUT', 'DELETE', '200', '201', '404', '500', '503', '/api/orders', '/api/orders/42', '/v1/items/7/stock', '/health', 'SELECT * FROM "users" WHERE id = $1', 'a<b>c', 'x@y#z', ''];
  const patterns = ['GET', '^GET$', 'GET|POST', '^(PUT|DELETE)$', '^5', '^4\\d\\d$', '0$', '/api/orders', '^/api/orders$', '/items/\\d+/stock', '(?:orders|health)', '[0-9]{3}', '"users"', '<b>', '@y#', 'S.L', '\\$1', '^$'];
  for (const p of patterns) {
    it(p, () => {
      const lucene = luceneRegex(toLuceneRegex(p), 'NONE', false);
      const js = new RegExp(p);
      for (const v of values) expect([v, lucene.test(v)]).toEqual([v, js.test(v)]);
    });
  }
  it('refuses what Lucene cannot express, with a clear message', () => {
    expect(() => toLuceneRegex('(?=x)')).toThrow(/lookaround/);
    expect(() => toLuceneRegex('a+?')).toThrow(/lazy/);
    expect(() => toLuceneRegex('a|^b')).toThrow(/only at the start and end/);
  });
});
