import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { tmpDir } from '../support/index.js';
import { genRRPairs, reference, serveEmbedded, testReceiverFactory } from './support.js';

const NOW = Date.now();
const H = 3_600_000;

describe('the daemon serves GET /api/v1/rrpairs from a running short-term store', () => {
  const t = tmpDir();
  const rrs = genRRPairs(250, NOW, 2 * H, 61);
  let service: Service;
  let base = '';

  beforeAll(async () => {
    let port: number;
    ({ service, port } = await serveEmbedded(t.dir, rrs, { queryApi: { max_limit: 500 } }));
    base = `http://127.0.0.1:${port}/api/v1/rrpairs`;
    // The sending queue acknowledges before the write: wait until the store has them all.
    for (let i = 0; i < 100; i++) {
      const r = (await (await fetch(`${base}?start=-3h&limit=500`)).json()) as { count: number };
      if (r.count === rrs.length) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  });
  afterAll(async () => {
    await service.shutdown();
    t.cleanup();
  });

  it('pages through a filtered result with next_url, matching the reference', async () => {
    const want = reference(rrs, { start: NOW - 3 * H, direction: 'IN', status: '^[45]' });
    const got: string[] = [];
    let url: string | undefined = `${base}?start=-3h&direction=IN&status=${encodeURIComponent('^[45]')}&limit=13`;
    let pages = 0;
    while (url) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { hits: { id: string }[]; next_url?: string };
      expect(body.hits.length).toBeLessThanOrEqual(13);
      got.push(...body.hits.map((h) => h.id));
      url = body.next_url ? new URL(body.next_url, base).toString() : undefined;
      pages++;
    }
    expect(got).toEqual(want);
    expect(pages).toBe(Math.ceil(want.length / 13) + (want.length % 13 === 0 ? 1 : 0));
  });

  it('full=true includes the RRPair; /api/v1/rrpairs/<id> returns one', async () => {
    const body = (await (await fetch(`${base}?start=-3h&service=payments&limit=3&full=true`)).json()) as { hits: { id: string; rrpair: unknown }[] };
    const byId = new Map(rrs.map((r) => [r.uuid, r]));
    expect(body.hits.length).toBe(3);
    for (const h of body.hits) expect(h.rrpair).toEqual(byId.get(h.id));
    const one = await fetch(`${base}/${encodeURIComponent(rrs[7]!.uuid!)}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual(rrs[7]);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('bad requests get 400 with the reason, and the daemon keeps serving', async () => {
    for (const [q, msg] of [
      ['direction=UP', /invalid direction/],
      ['status=(', /invalid status regex/],
      ['limit=100000', /above the maximum 500/],
      ['start=yesterday', /invalid time/],
      ['start=-99999999999999999999d', /out of range/],
      ['start=99999999999999999999', /out of range/],
      ['start=2021-02-30T00:00:00Z', /invalid time/],
      ['limit=0', /below the minimum 1/],
      ['colour=blue', /unknown parameter "colour"/],
      ['after=!!!', /invalid paging token/],
    ] as const) {
      const res = await fetch(`${base}?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(msg);
    }
    expect((await fetch(base.replace('/rrpairs', '/other'))).status).toBe(404);
    expect((await fetch(base, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}?start=-3h`)).status).toBe(200);
  });
});

describe('query_api refuses to start on a store that is not queryable', () => {
  it('names the problem', async () => {
    const registry = await builtinRegistry();
    const yaml = `
receivers:
  testsource: {}
exporters:
  debug: {}
extensions:
  query_api: { endpoint: 127.0.0.1:0, store: debug }
service:
  extensions: [query_api]
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [testsource], exporters: [debug] }
`;
    registry.registerPlugin({ factories: [testReceiverFactory()] }, 'test');
    const service = new Service({ files: ['bad.yaml'], texts: { 'bad.yaml': yaml }, registry, logger: silentLogger() });
    await expect(service.start()).rejects.toThrow(/not a queryable short-term store/);
    await service.shutdown();
  });
});
