import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { post } from './client.js';
import { startService, type Running } from './harness.js';
import { freePort, waitFor } from '../support/index.js';
import { SAMPLES } from './support.js';

/** rrpipe A (otlp receiver → otlp / otlphttp exporter) → rrpipe B (otlp receiver → capture): nothing changes on the way. */
describe('rrpipe → otlp exporters → a second rrpipe otlp receiver: lossless', () => {
  let b: Running;
  let bGrpc: number;
  let bHttp: number;

  beforeAll(async () => {
    bGrpc = await freePort();
    bHttp = await freePort();
    b = await startService(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${bGrpc}" }
      http: { endpoint: "127.0.0.1:${bHttp}" }
exporters:
  capture: {}
service:
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp], exporters: [capture] }
`);
  });
  afterAll(async () => b?.stop());

  const cases: [string, (g: number, h: number) => string][] = [
    ['otlp (gRPC, gzip)', (g) => `otlp:\n    endpoint: 127.0.0.1:${g}\n    tls: { insecure: true }`],
    ['otlp (gRPC, http:// endpoint, no compression)', (g) => `otlp:\n    endpoint: http://127.0.0.1:${g}\n    compression: none`],
    ['otlphttp (protobuf, gzip)', (_g, h) => `otlphttp:\n    endpoint: http://127.0.0.1:${h}`],
    ['otlp_http alias (JSON, no compression)', (_g, h) => `otlp_http:\n    logs_endpoint: http://127.0.0.1:${h}/v1/logs\n    encoding: json\n    compression: none`],
  ];

  for (const [name, exporter] of cases) {
    it(`${name}: every record arrives with the same RRPair, resource and attributes`, async () => {
      b.sink.records.length = 0;
      const aHttp = await freePort();
      const exporterYaml = exporter(bGrpc, bHttp);
      const exporterId = exporterYaml.split(':')[0]!;
      const a = await startService(`
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${aHttp}" }
processors:
  batch: { send_batch_size: 50, timeout: 20ms }
exporters:
  capture: {}
  ${exporterYaml}
service:
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [capture, ${exporterId}] }
`);
      try {
        // Half the samples with forwarder attributes, half without (their "undefined" identity fields must survive).
        const recs = SAMPLES.map((rr, i) => newRecord(structuredClone(rr), i % 2 ? { resource: { cluster: 'east' }, attributes: { service: 'api', namespace: 'prod', 'k8s.pod': 'p-1' } } : {}));
        for (let i = 0; i < recs.length; i += 40) {
          const r = await post(aHttp, '/v1/logs', Buffer.from(encodeLogsRequest(recordsToOtlpJson(recs.slice(i, i + 40)))), { 'content-type': 'application/x-protobuf' });
          expect(r.status).toBe(200);
        }
        await a.sink.waitFor(SAMPLES.length);
        await b.sink.waitFor(SAMPLES.length);
        const key = (r: { rrpair: { uuid?: string } }) => String(r.rrpair.uuid);
        const shape = (r: { rrpair: unknown; resource: unknown; attributes: unknown }) => ({ rrpair: r.rrpair, resource: r.resource, attributes: r.attributes });
        const sent = new Map(a.sink.records.map((r) => [key(r), shape(r)]));
        expect(b.sink.records).toHaveLength(SAMPLES.length);
        for (const r of b.sink.records) expect(shape(r)).toEqual(sent.get(key(r)));
        // and the samples without attributes are byte-for-byte the samples
        const plain = b.sink.records.find((r) => r.rrpair.uuid === SAMPLES[0]!.uuid)!;
        expect(plain.rrpair).toEqual(SAMPLES[0]);
      } finally {
        await a.stop();
      }
    });
  }

  it('otlphttp against a busy server: 503 + Retry-After is retried until it succeeds', async () => {
    const { createServer } = await import('node:http');
    let calls = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls++;
        if (calls <= 2) {
          res.writeHead(503, { 'retry-after': '0', 'content-type': 'application/json' });
          res.end('{"code":14,"message":"busy"}');
        } else {
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const aHttp = await freePort();
    const a = await startService(`
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${aHttp}" }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${port}
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
service:
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp], exporters: [otlphttp] }
`);
    try {
      const r = await post(aHttp, '/v1/logs', Buffer.from(encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))]))), { 'content-type': 'application/x-protobuf' });
      expect(r.status).toBe(200);
      await waitFor(() => calls >= 3, { timeoutMs: 10_000, intervalMs: 20, what: 'the third call' });
      expect(calls).toBe(3);
      expect(await a.service.telemetry.total('sent', { component: 'otlphttp' })).toBe(1);
      expect(await a.service.telemetry.total('failed', { component: 'otlphttp' })).toBe(2);
    } finally {
      await a.stop();
      server.close();
    }
  });
});
