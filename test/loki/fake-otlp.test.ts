import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { startLokiFake, type LokiFake } from '../support/index.js';

/**
 * The fake's Loki 3 OTLP endpoint, against the mapping Grafana documents ("Format considerations"
 * of https://grafana.com/docs/loki/latest/send-data/otel/).
 */
const NOW = Date.now();
const T1 = String(BigInt(NOW - 5_000) * 1_000_000n + 123n);
const T2 = String(BigInt(NOW - 4_000) * 1_000_000n);

const request = (over: { resource?: object[]; logs?: object[] } = {}) => ({
  resourceLogs: [{
    resource: { attributes: over.resource ?? [
      { key: 'service.name', value: { stringValue: 'checkout' } },
      { key: 'k8s.namespace.name', value: { stringValue: 'shop' } },
      { key: 'host.name', value: { stringValue: 'node-1' } },
    ] },
    scopeLogs: [{
      scope: { name: 'speedscale-forwarder', version: '1.2.3' },
      logRecords: over.logs ?? [
        { timeUnixNano: T1, body: { kvlistValue: { values: [{ key: 'msgType', value: { stringValue: 'rrpair' } }, { key: 'status', value: { stringValue: '200' } }] } }, attributes: [{ key: 'http.route', value: { stringValue: '/pay' } }], severityText: 'INFO', traceId: '5b8efff798038103d269b633813fc60c' },
        { timeUnixNano: '0', observedTimeUnixNano: T2, body: { stringValue: 'plain text' } },
      ],
    }],
  }],
});

describe('Loki fake: OTLP ingestion (POST /otlp/v1/logs)', () => {
  let loki: LokiFake;
  const post = (body: Buffer | string, headers: Record<string, string>) => fetch(`${loki.url}/otlp/v1/logs`, { method: 'POST', headers, body });
  beforeAll(async () => {
    loki = await startLokiFake({ now: () => NOW });
  });
  afterAll(async () => loki.stop());

  it('maps OTLP/JSON as Loki documents it: default resource attributes → index labels (dots → _), body → line, the rest → structured metadata, the log record time', async () => {
    const res = await post(JSON.stringify(request()), { 'content-type': 'application/json' });
    expect(res.status).toBe(204);
    const got = loki.entries().sort((a, b) => (a.tsNs < b.tsNs ? -1 : 1));
    expect(got).toEqual([
      {
        labels: { k8s_namespace_name: 'shop', service_name: 'checkout' },
        tsNs: BigInt(T1),
        line: '{"msgType":"rrpair","status":"200"}',
        metadata: { host_name: 'node-1', scope_name: 'speedscale-forwarder', scope_version: '1.2.3', http_route: '/pay', severity_text: 'INFO', trace_id: '5b8efff798038103d269b633813fc60c' },
      },
      // No time_unix_nano: the observed time; a string body is the line as it is.
      { labels: { k8s_namespace_name: 'shop', service_name: 'checkout' }, tsNs: BigInt(T2), line: 'plain text', metadata: { host_name: 'node-1', scope_name: 'speedscale-forwarder', scope_version: '1.2.3' } },
    ]);
    // A query answer merges structured metadata and parsed fields into the labels.
    const q = new URLSearchParams({ query: '{service_name="checkout"} | json | status="200"', start: String(BigInt(NOW - 60_000) * 1_000_000n), end: String(BigInt(NOW) * 1_000_000n) });
    const answer = (await (await fetch(`${loki.url}/loki/api/v1/query_range?${q}`)).json()) as { data: { result: { stream: Record<string, string> }[] } };
    expect(answer.data.result).toHaveLength(1);
    expect(answer.data.result[0]!.stream).toMatchObject({ service_name: 'checkout', host_name: 'node-1', http_route: '/pay', status: '200', msgType: 'rrpair' });
  });

  it('takes gzip protobuf as otlphttp sends it; a resource without service.name gets service_name="unknown_service"; custom attributes index only when Loki\'s otlp_config says so', async () => {
    const doc = request({ resource: [{ key: 'service', value: { stringValue: 'billing' } }, { key: 'cluster', value: { stringValue: 'east' } }], logs: [{ timeUnixNano: T1, body: { stringValue: 'x' } }] });
    const res = await post(gzipSync(encodeLogsRequest(doc)), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(204);
    expect(loki.pushes.at(-1)).toMatchObject({ path: '/otlp/v1/logs', labels: ['{service_name="unknown_service"}'] });
    const promoted = await startLokiFake({ now: () => NOW, otlpIndexLabels: ['service', 'cluster'] });
    try {
      expect((await fetch(`${promoted.url}/otlp/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeLogsRequest(doc) })).status).toBe(204);
      expect(promoted.entries()).toEqual([{ labels: { cluster: 'east', service: 'billing', service_name: 'unknown_service' }, tsNs: BigInt(T1), line: 'x', metadata: { scope_name: 'speedscale-forwarder', scope_version: '1.2.3' } }]);
    } finally {
      await promoted.stop();
    }
  });

  it('refuses what Loki refuses: other content types and encodings, malformed or truncated bodies, structured metadata when disallowed, GET', async () => {
    const before = loki.entries().length;
    expect((await post(JSON.stringify(request()), { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(JSON.stringify(request()), { 'content-type': 'application/json', 'content-encoding': 'snappy' })).status).toBe(415);
    expect((await post('{"resourceLogs": 5}', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post('not json', { 'content-type': 'application/json' })).status).toBe(400);
    // resource_logs announced 5 bytes long, 1 there: truncated. (Unknown fields are skipped, as Go's protobuf does.)
    expect((await post(Buffer.from([0x0a, 0x05, 0x01]), { 'content-type': 'application/x-protobuf' })).status).toBe(400);
    expect((await post(Buffer.from([0x4a, 0x01, 0x78]), { 'content-type': 'application/x-protobuf' })).status).toBe(204);
    expect((await post(Buffer.from('not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' })).status).toBe(400);
    expect((await fetch(`${loki.url}/otlp/v1/logs`)).status).toBe(405);
    expect(loki.entries()).toHaveLength(before);
    const strict = await startLokiFake({ now: () => NOW, allowStructuredMetadata: false });
    try {
      const res = await fetch(`${strict.url}/otlp/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request()) });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/structured metadata.*disallowed/);
      expect(strict.entries()).toEqual([]);
    } finally {
      await strict.stop();
    }
  });

  it('applies the push limits to OTLP entries: a too old record is refused with Loki\'s message, the rest kept', async () => {
    const old = String(BigInt(NOW - 200 * 3_600_000) * 1_000_000n);
    const doc = request({ resource: [{ key: 'service.name', value: { stringValue: 'limits' } }], logs: [{ timeUnixNano: old, body: { stringValue: 'old' } }, { timeUnixNano: T1, body: { stringValue: 'fresh' } }] });
    const res = await post(JSON.stringify(doc), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/timestamp too old/);
    expect(loki.entries().filter((e) => e.labels.service_name === 'limits').map((e) => e.line)).toEqual(['fresh']);
  });
});
