import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { batchToRequests, normalizeLabel, recordToEntry } from '../../src/exporters/loki/convert.js';
import { goJson, goQuote } from '../../src/exporters/internal/gojson.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, startLokiFake, type LokiFake } from '../support/index.js';
import { buildLoki, FAST } from './support.js';

const SAMPLES = allSamples();
const NOW_NS = () => BigInt(Date.now()) * 1_000_000n;

/** A record as the chart's attributes/resource processors leave it: hints set, identity in attributes. */
function hinted(rr: RRPair, ids = { cluster: 'east', service: 'billing', namespace: 'prod' }, extra: { attributes?: Record<string, string>; resource?: Record<string, string> } = {}): RRRecord {
  return newRecord(structuredClone(rr), {
    attributes: { service: ids.service, namespace: ids.namespace, 'loki.attribute.labels': 'service,namespace', ...extra.attributes },
    resource: { cluster: ids.cluster, 'loki.resource.labels': 'cluster', ...extra.resource },
    observedNs: NOW_NS(),
  });
}

describe('loki exporter: records → streams as the OTel contrib exporter builds them', () => {
  it('promotes the hinted attributes to labels, adds exporter="OTLP", and leaves them and the hints out of the line', () => {
    const rr = { ...SAMPLES[0]!, note: 'a<b & c>d\u2028' } as RRPair;
    const { labels, entry } = recordToEntry(hinted(rr, undefined, { attributes: { 'http.route': '/x', keep: 'me' } }));
    expect(labels).toBe('{cluster="east", exporter="OTLP", namespace="prod", service="billing"}');
    const line = JSON.parse(entry.line);
    expect(Object.keys(line)).toEqual(['body', 'attributes']);
    expect(line.attributes).toEqual({ 'http.route': '/x', keep: 'me' });
    expect(line.body).toEqual(rr);
    // Go's encoding/json: map keys sorted, <, >, & and U+2028 escaped.
    expect(entry.line).toContain('"note":"a\\u003cb \\u0026 c\\u003ed\\u2028"');
    const bodyKeys = Object.keys(JSON.parse(entry.line).body);
    expect(bodyKeys).toEqual([...bodyKeys].sort());
  });

  it('job from service.namespace/service.name, instance from service.instance.id; label names normalized', () => {
    const r = newRecord(SAMPLES[0]!, {
      resource: { 'service.name': 'api', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'k8s.pod.name': 'p', 'loki.resource.labels': 'k8s.pod.name' },
      attributes: { '_private': 'x', '1st': 'y', 'loki.attribute.labels': '_private, 1st' },
    });
    const { labels, entry } = recordToEntry(r);
    expect(labels).toBe('{exporter="OTLP", instance="pod-1", job="shop/api", k8s_pod_name="p", key_1st="y", key_private="x"}');
    // Only promoted attributes leave the line; service.* stay in "resources".
    expect(JSON.parse(entry.line).resources).toEqual({ 'service.instance.id': 'pod-1', 'service.name': 'api', 'service.namespace': 'shop' });
    expect(normalizeLabel('__meta')).toBe('__meta');
    expect(normalizeLabel('a-b.c')).toBe('a_b_c');
  });

  it('default_labels_enabled turns labels off one by one; a label left out stays on', () => {
    const r = newRecord(SAMPLES[0]!, { resource: { 'service.name': 'api', 'service.instance.id': 'i' } });
    expect(recordToEntry(r, { defaultLabelsEnabled: { exporter: false } }).labels).toBe('{instance="i", job="api"}');
    expect(recordToEntry(r, { defaultLabelsEnabled: { exporter: true, job: true } }).labels).toBe('{exporter="OTLP", instance="i", job="api"}');
    expect(recordToEntry(r, { defaultLabelsEnabled: { exporter: false, job: false, instance: false } }).labels).toBe('{}');
  });

  it('loki.format raw writes the body alone; loki.format logfmt flattens it', () => {
    const rr = { msgType: 'rrpair', ts: '2025-01-01T00:00:00Z', l7protocol: 'http', http: { req: { method: 'GET' } }, tags: ['a'] } as unknown as RRPair;
    const raw = recordToEntry(newRecord(rr, { resource: { 'loki.format': 'raw' } }));
    expect(raw.entry.line).toBe('{"http":{"req":{"method":"GET"}},"l7protocol":"http","msgType":"rrpair","tags":["a"],"ts":"2025-01-01T00:00:00Z"}');
    const lf = recordToEntry(newRecord(rr, { attributes: { 'loki.format': 'logfmt', service: 'a b' } }));
    expect(lf.entry.line).toBe('msgType=rrpair ts=2025-01-01T00:00:00Z l7protocol=http http_req_method=GET tags_0=a attribute_service="a b"');
    expect(() => recordToEntry(newRecord(rr, { attributes: { 'loki.format': 'xml' } }))).toThrow(/invalid format xml/);
  });

  it('the loki.tenant hint groups records by tenant (resource attribute first)', () => {
    const a = newRecord(SAMPLES[0]!, { resource: { 'loki.tenant': 'team', team: 'red' } });
    const b = newRecord(SAMPLES[1]!, { attributes: { 'loki.tenant': 'team', team: 'blue' } });
    const c = newRecord(SAMPLES[2]!, {});
    const { requests } = batchToRequests([a, b, c]);
    expect(requests.map((r) => [r.tenant, r.indices])).toEqual([['red', [0]], ['blue', [1]], ['', [2]]]);
    // The hint itself is never shown.
    expect(requests[0]!.streams[0]!.entries[0]!.line).not.toContain('loki.tenant');
  });

  it('a record too deep to write is reported, the rest of the batch converts', () => {
    let deep: Record<string, unknown> = {};
    const top = deep;
    for (let i = 0; i < 200; i++) deep = (deep.x = {}) as Record<string, unknown>;
    const { requests, failures } = batchToRequests([newRecord(SAMPLES[0]!), newRecord({ ...SAMPLES[1]!, deep: top } as RRPair)]);
    expect(failures).toEqual([{ index: 1, reason: expect.stringMatching(/failed to convert.*nested deeper/) }]);
    expect(requests[0]!.indices).toEqual([0]);
  });

  it('entry time: the log record\'s time_unix_nano (OTel\'s rule), unless entry_timestamp says otherwise', () => {
    const observedNs = 1_700_000_000_000_000_000n;
    const r = newRecord(SAMPLES[0]!, { observedNs, timeUnixNano: '1700000000123456789' });
    expect(recordToEntry(r).entry.tsNs).toBe(1_700_000_000_123_456_789n);
    expect(recordToEntry(r, { timestamp: 'log_record' }).entry.tsNs).toBe(1_700_000_000_123_456_789n);
    const observed = recordToEntry(r, { timestamp: 'observed' }).entry.tsNs;
    expect(observed >= observedNs && observed - observedNs < 1_000_000n).toBe(true);
    expect(recordToEntry(r, { timestamp: 'rrpair' }).entry.tsNs).toBe(1_742_258_506_221_941_000n);
  });

  it('entry time without a log record time: the receive time, spread inside its millisecond by the uuid (same on a retry), or the RRPair ts', () => {
    const observedNs = 1_700_000_000_000_000_000n;
    const a = recordToEntry(newRecord(SAMPLES[0]!, { observedNs })).entry.tsNs;
    const b = recordToEntry(newRecord(SAMPLES[1]!, { observedNs })).entry.tsNs;
    expect(a).not.toBe(b);
    expect(recordToEntry(newRecord(SAMPLES[0]!, { observedNs })).entry.tsNs).toBe(a);
    expect(a - observedNs < 1_000_000n && a >= observedNs).toBe(true);
    expect(recordToEntry(newRecord(SAMPLES[0]!, { observedNs: observedNs + 7n })).entry.tsNs).toBe(observedNs + 7n);
    expect(recordToEntry(newRecord(SAMPLES[0]!, { observedNs }), { timestamp: 'rrpair' }).entry.tsNs).toBe(1_742_258_506_221_941_000n);
  });

  it('Go text forms: strconv.Quote for label values, encoding/json numbers', () => {
    expect(goQuote('a"b\\c\n\u0001\u00a0é')).toBe('"a\\"b\\\\c\\n\\x01\\u00a0é"');
    expect(goJson({ b: 1e21, a: 1e-7, c: 0.5, d: [true, null] })).toBe('{"a":1e-7,"b":1e+21,"c":0.5,"d":[true,null]}');
    expect(goJson('\ud800x')).toBe('"\ufffdx"');
    // Keys sorted as Go sorts map keys, HTML characters escaped in keys and values, lone surrogates
    // mended in keys, a "__proto__" key kept as a key, undefined left out of objects and null in arrays.
    const tricky = JSON.parse('{"b":{"<k>":"a&b","__proto__":1},"a":[1,"\\u2028"]}') as Record<string, unknown>;
    (tricky.a as unknown[]).push(undefined, new Uint8Array([1, 2]));
    tricky['\udc00'] = 'x';
    tricky.u = undefined;
    expect(goJson(tricky)).toBe('{"a":[1,"\\u2028",null,"AQI="],"b":{"\\u003ck\\u003e":"a\\u0026b","__proto__":1},"\ufffd":"x"}');
    expect(goJson({ n: 12345678901234567890n })).toBe('{"n":12345678901234567890}');
    expect(() => goJson({ x: NaN })).toThrow(/unsupported value/);
  });
});

describe('loki exporter against the Loki wire fake', () => {
  let loki: LokiFake;
  beforeAll(async () => {
    loki = await startLokiFake({ authEnabled: true });
  });
  afterAll(async () => loki.stop());

  it('pushes protobuf + snappy to /loki/api/v1/push; the fake stores every entry under its stream', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, headers: { 'X-Scope-OrgID': 'acme' }, ...FAST });
    try {
      const batch = SAMPLES.slice(0, 20).map((rr, i) => hinted(rr, { cluster: 'east', service: i % 2 ? 'billing' : 'orders', namespace: 'prod' }));
      await b.exporter.consume(batch, {});
      const push = loki.pushes.at(-1)!;
      expect(push).toMatchObject({ tenant: 'acme', contentType: 'application/x-protobuf', status: 204, streams: 2, entries: 20 });
      const stored = loki.entries('acme');
      expect(stored).toHaveLength(20);
      const byUuid = new Map(stored.map((e) => [JSON.parse(e.line).body.uuid, e]));
      batch.forEach((r) => {
        const e = byUuid.get(r.rrpair.uuid)!;
        expect(e.labels).toEqual({ cluster: 'east', exporter: 'OTLP', namespace: 'prod', service: r.attributes.service });
        expect(e.tsNs >= r.observedNs && e.tsNs < r.observedNs + 1_000_000n).toBe(true);
        expect(JSON.parse(e.line).body).toEqual(r.rrpair);
      });
    } finally {
      await b.stop();
    }
  });

  it('encoding: json sends the JSON push format; the same entries arrive', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, encoding: 'json', compression: 'gzip', headers: { 'X-Scope-OrgID': 'json-tenant' }, ...FAST });
    try {
      const batch = SAMPLES.slice(20, 25).map((rr) => hinted(rr));
      await b.exporter.consume(batch, {});
      expect(loki.pushes.at(-1)).toMatchObject({ contentType: 'application/json', contentEncoding: 'gzip', status: 204 });
      const byUuid = (xs: RRPair[]) => [...xs].sort((x, y) => (x.uuid! < y.uuid! ? -1 : 1));
      expect(byUuid(loki.entries('json-tenant').map((e) => JSON.parse(e.line).body))).toEqual(byUuid(batch.map((r) => r.rrpair)));
    } finally {
      await b.stop();
    }
  });

  it('the loki.tenant hint sets X-Scope-OrgID per request, over a configured header', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, headers: { 'X-Scope-OrgID': 'static' }, ...FAST });
    try {
      const batch = SAMPLES.slice(0, 4).map((rr, i) => hinted(rr, undefined, { resource: { 'loki.tenant': 'team', team: i < 2 ? 'red' : 'blue' } }));
      await b.exporter.consume(batch, {});
      expect(loki.entries('red')).toHaveLength(2);
      expect(loki.entries('blue')).toHaveLength(2);
      expect(loki.entries('red')[0]!.labels).not.toHaveProperty('team');
    } finally {
      await b.stop();
    }
  });

  it('429 and 5xx are retried (Retry-After honoured) until Loki takes the batch', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, headers: { 'X-Scope-OrgID': 'retry' }, ...FAST });
    try {
      loki.failPushes(429, 1, 'Ingestion rate limit exceeded', '0');
      loki.failPushes(503, 1, 'overloaded');
      loki.failPushes(500, 1, 'rpc error');
      const before = loki.pushes.length;
      await b.exporter.consume([hinted(SAMPLES[30]!)], {});
      expect(loki.pushes.slice(before).map((p) => p.status)).toEqual([429, 503, 500, 204]);
      expect(loki.entries('retry')).toHaveLength(1);
      expect(await b.telemetry.text()).toMatch(/rrpipe_records_sent_total\{component="loki",kind="exporter",pipeline=""\} 1/);
    } finally {
      await b.stop();
    }
  });

  it('a 400 is not retried: the records are dead-lettered with Loki\'s reason, the good ones delivered', async () => {
    // No label at all: Loki refuses the stream ("at least one label pair is required").
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, headers: { 'X-Scope-OrgID': 'bad' }, default_labels_enabled: { exporter: false }, ...FAST });
    try {
      const good = hinted(SAMPLES[40]!);
      const bad = newRecord(structuredClone(SAMPLES[41]!), { observedNs: NOW_NS() });
      const before = loki.pushes.length;
      await b.exporter.consume([good, bad], {});
      const statuses = loki.pushes.slice(before).map((p) => p.status);
      expect(statuses.filter((s) => s === 400).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(2); // never retried
      const dl = await b.deadLetters();
      expect(dl).toHaveLength(1);
      expect(dl[0]!.reason).toMatch(/^HTTP 400 "Bad Request": error at least one label pair is required per stream/);
      expect(dl[0]!.rrpair?.uuid).toBe(bad.rrpair.uuid);
      expect(loki.entries('bad').map((e) => JSON.parse(e.line).body.uuid)).toEqual([good.rrpair.uuid]);
    } finally {
      await b.stop();
    }
  });

  it('entry_timestamp: rrpair uses the RRPair\'s ts; Loki refuses the 2025 recordings as too old (dead-lettered)', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, headers: { 'X-Scope-OrgID': 'old' }, entry_timestamp: 'rrpair', ...FAST });
    try {
      await b.exporter.consume([hinted(SAMPLES[50]!)], {});
      const dl = await b.deadLetters();
      expect(dl[0]!.reason).toMatch(/HTTP 400 .*timestamp too old: 2025-/);
      expect(loki.entries('old')).toHaveLength(0);
    } finally {
      await b.stop();
    }
  });

  it('without X-Scope-OrgID a multi-tenant Loki answers 401: permanent, dead-lettered', async () => {
    const b = await buildLoki({ endpoint: `${loki.url}/loki/api/v1/push`, ...FAST });
    try {
      await b.exporter.consume([hinted(SAMPLES[60]!)], {});
      expect((await b.deadLetters())[0]!.reason).toBe('HTTP 401 "Unauthorized": no org id');
    } finally {
      await b.stop();
    }
  });

  it('a connection refused is retried, then dead-lettered when retries run out', async () => {
    const b = await buildLoki({ endpoint: 'http://127.0.0.1:1/loki/api/v1/push', ...FAST, retry_on_failure: { initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: '200ms' } });
    try {
      await b.exporter.consume([hinted(SAMPLES[61]!)], {});
      expect((await b.deadLetters())[0]!.reason).toMatch(/^retries exhausted: Loki push failed: connect ECONNREFUSED/);
    } finally {
      await b.stop();
    }
  });

  it('the config is checked: endpoint must be an http(s) URL, default_labels_enabled takes only the four labels', async () => {
    await expect(buildLoki({ endpoint: 'loki:3100' })).rejects.toThrow(/endpoint/);
    await expect(buildLoki({ endpoint: 'http://x/loki/api/v1/push', default_labels_enabled: { severity: false } })).rejects.toThrow(/severity|additional/);
  });
});
