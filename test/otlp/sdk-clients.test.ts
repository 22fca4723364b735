import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startService, type Running } from './harness.js';
import { freePort } from '../support/index.js';
import { expectedRRPair, SAMPLES } from './support.js';

/** Send the samples as the Speedscale forwarder does: body = the RRPair, attributes service/namespace, resource cluster. */
async function sendSamples(exporter: LogRecordExporter, ids = { cluster: 'prod-east', service: 'payments', namespace: 'shop' }): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ cluster: ids.cluster }),
    processors: [new BatchLogRecordProcessor(exporter, { maxExportBatchSize: 64, scheduledDelayMillis: 50 })],
  });
  const logger = provider.getLogger('speedscale-forwarder');
  for (const rr of SAMPLES) {
    logger.emit({ body: structuredClone(rr) as never, attributes: { service: ids.service, namespace: ids.namespace } });
  }
  await provider.forceFlush();
  await provider.shutdown();
}

describe('otlp receiver with the OpenTelemetry JS SDK log exporters', () => {
  let svc: Running;
  let grpcPort: number;
  let httpPort: number;

  beforeAll(async () => {
    grpcPort = await freePort();
    httpPort = await freePort();
    svc = await startService({
      grpc: `endpoint: "127.0.0.1:${grpcPort}"`,
      http: `endpoint: "127.0.0.1:${httpPort}"`,
      processors: { batch: '' },
    });
  });
  afterAll(async () => svc?.stop());
  beforeEach(() => {
    svc.sink.records.length = 0;
  });

  const expected = SAMPLES.map((rr) => expectedRRPair(rr, { cluster: 'prod-east', service: 'payments', namespace: 'shop' }));
  const byUuid = (a: { uuid?: string }, b: { uuid?: string }) => String(a.uuid).localeCompare(String(b.uuid));

  for (const [name, make] of [
    ['gRPC (exporter-logs-otlp-grpc)', () => new GrpcLogExporter({ url: `http://127.0.0.1:${grpcPort}` })],
    ['HTTP/protobuf (exporter-logs-otlp-proto)', () => new ProtoLogExporter({ url: `http://127.0.0.1:${httpPort}/v1/logs` })],
    ['HTTP/JSON (exporter-logs-otlp-http)', () => new HttpJsonLogExporter({ url: `http://127.0.0.1:${httpPort}/v1/logs` })],
    ['HTTP/protobuf gzip', () => new ProtoLogExporter({ url: `http://127.0.0.1:${httpPort}/v1/logs`, compression: 'gzip' as never })],
  ] as const) {
    it(`${name}: every sample arrives equal to its JSON, field for field`, async () => {
      await sendSamples(make());
      await svc.sink.waitFor(SAMPLES.length);
      const got = svc.sink.records.map((r) => r.rrpair).sort(byUuid);
      expect(got).toHaveLength(SAMPLES.length);
      expect(got).toEqual([...expected].sort(byUuid));
      const r0 = svc.sink.records[0]!;
      expect(r0.attributes).toMatchObject({ service: 'payments', namespace: 'shop' });
      expect(r0.resource).toMatchObject({ cluster: 'prod-east' });
      // integral numbers stay integers
      const withStatus = svc.sink.records.find((r) => r.rrpair.http?.res?.statusCode !== undefined)!;
      expect(Number.isInteger(withStatus.rrpair.http!.res!.statusCode)).toBe(true);
    });
  }
});
