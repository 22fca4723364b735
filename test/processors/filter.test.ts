import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/filter/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, configOf, makeProcessor, rec } from './helpers.js';

function rr(p: Partial<RRPair> & { method?: string; path?: string; code?: number; host?: string }): RRPair {
  const { method = 'GET', path = '/', code = 200, host = 'api.local', ...rest } = p;
  return { l7protocol: 'http', direction: 'IN', ts: '2025-03-18T00:00:00Z', service: 'web', namespace: 'prod', cluster: 'c1', http: { req: { method, uri: path, host }, res: { statusCode: code } }, ...rest };
}

async function run(cfg: unknown, input: RRPair[]) {
  const { proc, sink, telemetry } = await makeProcessor(factory, cfg);
  await proc.consume(input.map((x) => rec(x)), {});
  return { kept: sink.records.map((r) => r.rrpair), telemetry, sink };
}

describe('filter processor', () => {
  it('exact match (one value or a list), with include all', async () => {
    const input = [rr({ service: 'web' }), rr({ service: 'api' }), rr({ service: 'db' })];
    const { kept, telemetry } = await run({ include: { rules: [{ field: 'service', exact: ['web', 'api'] }] } }, input);
    expect(kept.map((k) => k.service)).toEqual(['web', 'api']);
    expect(await telemetry.total('dropped', { reason: 'filtered' })).toBe(1);
  });

  it('regex, prefix and numeric range; status as a number range; all vs any', async () => {
    const input = [rr({ path: '/api/orders', code: 500 }), rr({ path: '/api/users', code: 404 }), rr({ path: '/healthz', code: 200 }), rr({ path: '/static/a.js', code: 503 })];
    expect((await run({ include: { rules: [{ field: 'location', regex: '^/api/(orders|users)$' }] } }, input)).kept).toHaveLength(2);
    expect((await run({ include: { rules: [{ field: 'location', prefix: '/static/' }] } }, input)).kept).toHaveLength(1);
    expect((await run({ include: { rules: [{ field: 'status', range: { min: 500, max: 599 } }] } }, input)).kept.map((k) => k.http!.req!.uri)).toEqual(['/api/orders', '/static/a.js']);
    const all = await run({ include: { match: 'all', rules: [{ field: 'location', prefix: '/api' }, { field: 'status', range: { min: 500 } }] } }, input);
    expect(all.kept).toHaveLength(1);
    const any = await run({ include: { match: 'any', rules: [{ field: 'location', prefix: '/api' }, { field: 'status', range: { min: 500 } }] } }, input);
    expect(any.kept).toHaveLength(3);
  });

  it('exclude rules on direction, l7protocol, command, host, cluster, namespace and tags; negate', async () => {
    const input = [
      rr({ direction: 'OUT' }), rr({ l7protocol: 'grpc' }), rr({ method: 'OPTIONS' }), rr({ host: 'metadata.google.internal' }),
      rr({ cluster: 'dev' }), rr({ namespace: 'kube-system' }), rr({ tags: { source: 'synthetic' } }), rr({}),
    ];
    const { kept, telemetry } = await run({
      exclude: { match: 'any', rules: [
        { field: 'direction', exact: 'OUT' }, { field: 'l7protocol', exact: 'grpc' }, { field: 'command', exact: 'OPTIONS' },
        { field: 'host', regex: '\\.internal$' }, { field: 'cluster', exact: 'c1', negate: true }, { field: 'namespace', prefix: 'kube-' },
        { field: 'tags.source', exact: 'synthetic' },
      ] },
    }, input);
    expect(kept).toHaveLength(1);
    expect(await telemetry.total('dropped', { reason: 'filtered' })).toBe(7);
  });

  it('identity from attributes when the RRPair says "undefined" (real samples)', async () => {
    const { proc, sink } = await makeProcessor(factory, { include: { rules: [{ field: 'service', exact: 'openai-client' }] } });
    const samples = allSamples().slice(0, 4);
    await proc.consume([rec(samples[0]!, { attributes: { service: 'openai-client' } }), ...samples.slice(1).map((s) => rec(s))], {});
    expect(sink.records).toHaveLength(1);
  });

  it('sample: keep N per signature per window, counted as sampled', async () => {
    const health = (ts: string) => rr({ path: '/healthz', ts });
    const input = [
      health('2025-03-18T00:00:01Z'), health('2025-03-18T00:00:02Z'), health('2025-03-18T00:00:30Z'), rr({ path: '/api', ts: '2025-03-18T00:00:03Z' }),
      rr({ path: '/api', ts: '2025-03-18T00:00:04Z' }), health('2025-03-18T00:01:01Z'), health('2025-03-18T00:01:02Z'),
    ];
    const { kept, telemetry } = await run({ sample: [{ when: { rules: [{ field: 'location', exact: '/healthz' }] }, keep: 2, window: '1m' }] }, input);
    expect(kept.map((k) => `${k.http!.req!.uri}@${k.ts!.slice(14, 19)}`)).toEqual(['/healthz@00:01', '/healthz@00:02', '/api@00:03', '/api@00:04', '/healthz@01:01', '/healthz@01:02']);
    expect(await telemetry.total('dropped', { reason: 'sampled' })).toBe(1);
  });

  it('sampling state persists across batches and is bounded by max_signatures', async () => {
    const { proc, sink, telemetry } = await makeProcessor(factory, { sample: [{ keep: 1, window: '1h', by: ['location'] }], max_signatures: 10 });
    for (let b = 0; b < 3; b++) await proc.consume(Array.from({ length: 5 }, (_, i) => rec(rr({ path: `/p${i}` }))), {});
    expect(sink.records).toHaveLength(5);
    expect(await telemetry.total('dropped', { reason: 'sampled' })).toBe(10);
    await proc.consume(Array.from({ length: 50 }, (_, i) => rec(rr({ path: `/q${i}` }))), {});
    expect(sink.records).toHaveLength(55);
  });

  it('an empty result does not call the next stage; no rules keeps everything', async () => {
    const { sink } = await run({ include: { rules: [{ field: 'service', exact: 'none' }] } }, [rr({})]);
    expect(sink.batches).toHaveLength(0);
    expect((await run({}, [rr({}), rr({})])).kept).toHaveLength(2);
  });

  it('config errors: zero or two match kinds, a bad regex', () => {
    expect(() => configOf(factory, { include: { rules: [{ field: 'service' }] } })).toThrow(/exactly one of/);
    expect(() => configOf(factory, { include: { rules: [{ field: 'service', exact: 'a', prefix: 'b' }] } })).toThrow(/exactly one of/);
    expect(() => configOf(factory, { exclude: { rules: [{ field: 'service', regex: '(' }] } })).toThrow(/invalid filter regex "\(": missing closing \)/);
    expect(() => configOf(factory, { include: { rules: [{ field: 'status', exact: 404 }] } })).not.toThrow();
  });

  it('regex conditions are RE2, matched in linear time: a backtracking pattern cannot stall the pipeline, lookaround is refused', async () => {
    expect(() => configOf(factory, { include: { rules: [{ field: 'status', regex: '^(?!OK$)' }] } })).toThrow(/filter regex "\^\(\?!OK\$\)".*linear time/);
    expect(() => configOf(factory, { include: { rules: [{ field: 'status', regex: '(a)\\1' }] } })).toThrow(/linear time/);
    // JavaScript's backtracking engine needs 2^n steps for this pattern on 'a'×n + '!'; n = 40 would run for days.
    const evil = { field: 'location', regex: '^(a|a)*$' };
    const { kept } = await run({ exclude: { rules: [evil] } }, [rr({ path: `${'a'.repeat(40)}!` }), rr({ path: 'aaaa' })]);
    expect(kept.map((k) => k.http!.req!.uri)).toEqual([`${'a'.repeat(40)}!`]);
  });

  it('bad input: wrong types and missing http are evaluated without crashing', async () => {
    const bad = [{}, { http: 'x', tags: 'y' }, { service: 5, http: { res: { statusCode: '5xx' } } }] as unknown as RRPair[];
    const { kept, telemetry } = await run({ exclude: { rules: [{ field: 'status', range: { min: 500 } }] }, sample: [{ keep: 10, by: ['tags.a', 'service'] }] }, bad);
    expect(kept).toHaveLength(3);
    expect(await telemetry.total('dropped')).toBe(0);
  });
});
