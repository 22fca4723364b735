import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProtobufPush } from '../../src/exporters/loki/push.js';
import { jsonLabels, parseLokiTime, startLokiFake, type LokiFake } from '../support/index.js';
import { parseLabelSet, parseLogQL } from '../fakes/loki/logql.js';

/** The fake is what the loki tests trust: it must refuse what Loki refuses. */
const NOW = Date.now();
const ns = (msAgo: number) => (BigInt(NOW - msAgo) * 1_000_000n);

function stream(labels: string, entries: [bigint, string][]) {
  return { labels, labelMap: Object.fromEntries(parseLabelSet(labels)), entries: entries.map(([tsNs, line]) => ({ tsNs, line })), indices: [] };
}

describe('Loki fake: push', () => {
  let loki: LokiFake;
  const push = (body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/x-protobuf' }) =>
    fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers, body });
  beforeAll(async () => {
    loki = await startLokiFake({ now: () => NOW });
  });
  afterAll(async () => loki.stop());

  it('takes a snappy-compressed PushRequest (204) and refuses the snappy framing format, raw protobuf and unknown fields (400)', async () => {
    const body = encodeProtobufPush([stream('{app="a"}', [[ns(1000), 'one']])]);
    expect((await push(body)).status).toBe(204);
    const framed = Buffer.concat([Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]), body]);
    expect(await (await push(framed)).text()).toMatch(/framing format/);
    const plain = Buffer.from(snappy.uncompress(new Uint8Array(body)));
    expect((await push(plain)).status).toBe(400);
    const w = protobuf.Writer.create();
    w.uint32((9 << 3) | 2).string('x');
    const unknown = Buffer.from(snappy.compress(w.finish()));
    expect(await (await push(unknown)).text()).toMatch(/unknown field 9/);
    expect((await push(body, { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('refuses bad label sets with Loki\'s messages and keeps the valid streams of the same request', async () => {
    const res = await push(
      encodeProtobufPush([
        stream('{app="ok"}', [[ns(1000), 'kept']]),
        { labels: '{app.name="x"}', labelMap: {}, entries: [{ tsNs: ns(1000), line: 'dot' }], indices: [] },
        { labels: '{}', labelMap: {}, entries: [{ tsNs: ns(1000), line: 'none' }], indices: [] },
        { labels: `{${Array.from({ length: 16 }, (_, i) => `l${i}="v"`).join(', ')}}`, labelMap: {}, entries: [{ tsNs: ns(1000), line: 'many' }], indices: [] },
      ]),
    );
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/error parsing labels '\{app.name="x"\}'/);
    expect(text).toMatch(/and 2 more errors/);
    expect(loki.entries().map((e) => e.line)).toContain('kept');
    const many = await push(encodeProtobufPush([{ labels: `{${Array.from({ length: 16 }, (_, i) => `l${i}="v"`).join(', ')}}`, labelMap: {}, entries: [{ tsNs: ns(1000), line: 'many' }], indices: [] }]));
    expect(await many.text()).toMatch(/has 16 label names; limit 15/);
    const none = await push(encodeProtobufPush([{ labels: '{}', labelMap: {}, entries: [{ tsNs: ns(1000), line: 'none' }], indices: [] }]));
    expect(await none.text()).toMatch(/at least one label pair is required per stream/);
  });

  it('timestamps: too old (168h), too new (10m), too far behind the stream (1h); an identical entry is ignored', async () => {
    const s = (e: [bigint, string][]) => push(encodeProtobufPush([stream('{app="ts"}', e)]));
    expect(await (await s([[ns(169 * 3_600_000), 'old']])).text()).toMatch(/timestamp too old/);
    expect(await (await s([[ns(-11 * 60_000), 'new']])).text()).toMatch(/timestamp too new/);
    expect((await s([[ns(1000), 'a'], [ns(2000), 'b']])).status).toBe(204); // out of order within the hour: fine
    expect((await s([[ns(1000), 'a']])).status).toBe(204);
    expect(await (await s([[ns(2 * 3_600_000), 'behind']])).text()).toMatch(/entry too far behind/);
    expect(loki.entries().filter((e) => e.labels.app === 'ts').map((e) => e.line)).toEqual(['b', 'a']);
  });

  it('the JSON push format, with its own checks', async () => {
    const ok = await push(JSON.stringify({ streams: [{ stream: { app: 'j' }, values: [[String(ns(500)), 'json line']] }] }), { 'content-type': 'application/json' });
    expect(ok.status).toBe(204);
    const bad = await push(JSON.stringify({ streams: [{ stream: { app: 'j' }, values: [[Number(ns(500)), 'x']] }] }), { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
  });
});

describe('Loki fake: query_range, labels and LogQL', () => {
  let loki: LokiFake;
  const q = async (params: Record<string, string>) => {
    const res = await fetch(`${loki.url}/loki/api/v1/query_range?${new URLSearchParams(params)}`);
    return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
  };
  beforeAll(async () => {
    loki = await startLokiFake({ now: () => NOW });
    const line = (i: number) => JSON.stringify({ body: { status: i % 2 ? '200' : '500', command: 'GET', http: { req: { host: 'h' } }, arr: [1] } });
    await fetch(`${loki.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeProtobufPush([
        stream('{service="a", cluster="c"}', [1, 2, 3].map((i) => [ns(i * 1000), line(i)])),
        stream('{service="b", cluster="c"}', [[ns(1500), line(4)], [ns(2500), 'not json']]),
      ]),
    });
  });
  afterAll(async () => loki.stop());

  it('backward by default, limit across streams, start inclusive and end exclusive', async () => {
    const r = await q({ query: '{cluster="c"}', start: String(ns(10_000)), end: String(ns(1000)), limit: '2' });
    const values = (r.body as { data: { result: { values: [string, string][] }[] } }).data.result.flatMap((s) => s.values.map((v) => v[0]));
    expect(values).toEqual([String(ns(1500)), String(ns(2000))]);
    const fwd = await q({ query: '{service="a"}', start: String(ns(10_000)), end: String(ns(0)), direction: 'forward' });
    expect((fwd.body as { data: { result: { values: [string, string][] }[] } }).data.result[0]!.values.map((v) => v[0])).toEqual([ns(3000), ns(2000), ns(1000)].map(String));
  });

  it('| json extracts nested keys with _ (arrays skipped), label filters use them, a non-JSON line gets __error__', async () => {
    const r = await q({ query: '{service=~".+"} | json | body_status=~"2.."', start: String(ns(10_000)), end: String(ns(0)) });
    const result = (r.body as { data: { result: { stream: Record<string, string>; values: unknown[] }[] } }).data.result;
    expect(result.flatMap((s) => s.values)).toHaveLength(2);
    expect(result[0]!.stream).toMatchObject({ service: 'a', body_status: '200', body_http_req_host: 'h' });
    expect(result[0]!.stream).not.toHaveProperty('body_arr');
    const errs = await q({ query: '{service="b"} | json | __error__="JSONParserErr"', start: String(ns(10_000)), end: String(ns(0)) });
    expect((errs.body as { data: { result: { values: [string, string][] }[] } }).data.result[0]!.values[0]![1]).toBe('not json');
    expect(jsonLabels('{"a":{"b c":1},"service":"x"}')).toEqual(new Map([['a_b_c', '1'], ['service', 'x']]));
  });

  it('refuses what Loki refuses: an empty-compatible selector, bad syntax, stages the fake does not know, too many entries', async () => {
    expect((await q({ query: '{service=~".*"}' })).body).toMatch(/empty-compatible value/);
    expect((await q({ query: '{service="a"' })).status).toBe(400);
    expect((await q({ query: '{service="a"} | logfmt' })).body).toMatch(/does not implement the logfmt stage/);
    expect((await q({ query: '{service="a"}', limit: '5001' })).body).toMatch(/max entries limit per query exceeded/);
    expect(() => parseLogQL('rate({a="b"}[1m])')).toThrow(/stream selector/);
  });

  it('a response over the size cap is a 500 ResourceExhausted, as from Loki\'s query frontend', async () => {
    const small = await startLokiFake({ now: () => NOW, maxResponseBytes: 300 });
    try {
      await fetch(`${small.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeProtobufPush([stream('{a="b"}', [1, 2, 3, 4].map((i) => [ns(i * 1000), 'x'.repeat(100)]))]) });
      const get = (limit: number) => fetch(`${small.url}/loki/api/v1/query_range?${new URLSearchParams({ query: '{a="b"}', start: String(ns(10_000)), end: String(ns(0)), limit: String(limit) })}`);
      const big = await get(4);
      expect(big.status).toBe(500);
      expect(await big.text()).toMatch(/ResourceExhausted/);
      expect((await get(1)).status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  it('labels and label values over the window; times as ns, s or RFC 3339', async () => {
    const labels = await (await fetch(`${loki.url}/loki/api/v1/labels?start=${ns(10_000)}&end=${ns(0)}`)).json();
    expect(labels).toEqual({ status: 'success', data: ['cluster', 'service'] });
    const values = (await (await fetch(`${loki.url}/loki/api/v1/label/service/values`)).json()) as { data: string[] };
    expect(values.data).toEqual(['a', 'b']);
    expect(parseLokiTime('1700000000', 0n)).toBe(1_700_000_000_000_000_000n);
    expect(parseLokiTime('1700000000.5', 0n)).toBe(1_700_000_000_500_000_000n);
    expect(parseLokiTime('2023-11-14T22:13:20.25Z', 0n)).toBe(1_700_000_000_250_000_000n);
  });
});
