import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProtobufPush } from '../../src/exporters/loki/push.js';
import { defaultLogQL, lineToRecord, parseLokiUri, readLoki } from '../../src/layouts/loki.js';
import type { ObjectItem } from '../../src/layouts/reader.js';
import { startLokiFake, type LokiFake } from '../support/index.js';

const NOW = Date.now();

async function all(it: AsyncIterable<ObjectItem>): Promise<ObjectItem[]> {
  const out: ObjectItem[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const line = (i: number) => JSON.stringify({ body: { msgType: 'rrpair', uuid: `u${i}`, ts: '2025-03-18T00:00:00Z', cluster: 'undefined', service: 'svc', pad: 'x'.repeat(200) } });
const instant = BigInt(NOW - 5_000) * 1_000_000n;

async function pushTo(loki: LokiFake, entries: { tsNs: bigint; line: string }[]): Promise<void> {
  const res = await fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'X-Scope-OrgID': 't1' }, body: encodeProtobufPush([{ labels: '{cluster="c1", service="svc"}', labelMap: {}, entries, indices: [] }]) });
  expect(res.status).toBe(204);
}

describe('reading RRPairs back from Loki (snapshot --from loki://)', () => {
  let dense: LokiFake;
  let capped: LokiFake;
  beforeAll(async () => {
    // 40 lines on one instant (more than a page), then 10 older ones, and a line the exporter did not write.
    dense = await startLokiFake({ now: () => NOW });
    await pushTo(dense, [
      ...Array.from({ length: 40 }, (_, i) => ({ tsNs: instant, line: line(i) })),
      ...Array.from({ length: 10 }, (_, i) => ({ tsNs: instant - BigInt(i + 1) * 1_000_000n, line: line(100 + i) })),
      { tsNs: instant - 50_000_000n, line: 'plain text' },
    ]);
    // A small response cap: a page of 25 lines is refused (ResourceExhausted) and must be halved.
    capped = await startLokiFake({ now: () => NOW, maxResponseBytes: 6_000 });
    await pushTo(capped, Array.from({ length: 30 }, (_, i) => ({ tsNs: instant - BigInt(i) * 1_000_000n, line: line(i) })));
  });
  afterAll(async () => {
    await dense.stop();
    await capped.stop();
  });

  it('pages newest first through an instant denser than a page: every line once, identity from the labels', async () => {
    const loc = parseLokiUri(`loki://${dense.url.slice('http://'.length)}?tenant=t1&query={cluster=~".+"} | json`);
    expect(loc.query).toBe('{cluster=~".+"} | json');
    const items = await all(readLoki(loc, loc.query!, NOW - 60_000, NOW));
    const records = items.filter((i) => i.kind === 'record');
    expect(records).toHaveLength(50);
    expect(new Set(records.map((r) => r.record.rrpair.uuid)).size).toBe(50);
    expect(records.every((r) => r.record.rrpair.cluster === 'c1' && r.record.resource.cluster === 'c1')).toBe(true);
    expect(items.filter((i) => i.kind === 'bad')).toEqual([expect.objectContaining({ reason: 'line is not JSON' })]);
  });

  it('halves a page Loki refuses as too large (ResourceExhausted) and still reads every line', async () => {
    const loc = parseLokiUri(`loki://${capped.url.slice('http://'.length)}?tenant=t1`);
    const items = await all(readLoki(loc, defaultLogQL({}), NOW - 60_000, NOW));
    expect(items.filter((i) => i.kind === 'record')).toHaveLength(30);
    expect(capped.queries.some((q) => q.status === 500)).toBe(true);
  });

  it('addresses and default queries', () => {
    expect(parseLokiUri('loki+https://loki.example:8443/base/?tenant=a')).toEqual({ base: 'https://loki.example:8443/base', tenant: 'a' });
    expect(() => parseLokiUri('loki://h:1?limit=5')).toThrow(/unknown parameter "limit"/);
    expect(defaultLogQL({})).toBe('{service=~".+"} | json');
    expect(defaultLogQL({ cluster: ['east'], service: ['a*'], namespace: ['prod'] })).toBe('{cluster="east", namespace="prod"} | json');
    expect(lineToRecord('{"body":[1]}', {}, 1n)).toMatch(/neither \{"body": <RRPair>\}/);
    expect(lineToRecord('{"msgType":"other","uuid":"x"}', {}, 1n)).toMatch(/neither/);
  });

  it('a line from Loki\'s OTLP endpoint is the RRPair itself; identity left "undefined" comes from the labels', () => {
    const r = lineToRecord('{"msgType":"rrpair","uuid":"u1","cluster":"undefined","service":"svc","command":"GET"}', { cluster: 'east', namespace: 'prod', service: 'other' }, 5n);
    expect(typeof r).toBe('object');
    const rec = r as Exclude<typeof r, string>;
    expect(rec.rrpair).toEqual({ msgType: 'rrpair', uuid: 'u1', cluster: 'east', service: 'svc', namespace: 'prod', command: 'GET' });
  });
});
