import * as grpc from '@grpc/grpc-js';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest, retryDelayOfStatus } from '../../src/rrpair/otlp-proto.js';
import { grpcExport } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { freePort, waitFor } from '../support/index.js';
import { SAMPLES } from './support.js';

/** Each uuid → how many times it arrived. */
function countByUuid(svc: Running): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of svc.sink.records) m.set(String(r.rrpair.uuid), (m.get(String(r.rrpair.uuid)) ?? 0) + 1);
  return m;
}

describe('otlp receiver backpressure: a stalled exporter → retryable errors; on recovery every record arrives exactly once', () => {
  let svc: Running;
  let httpPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    grpcPort = await freePort();
    svc = await startService({
      grpc: `endpoint: "127.0.0.1:${grpcPort}"`,
      http: `endpoint: "127.0.0.1:${httpPort}"`,
      // The SDK sends its batches of 40 concurrently; a batch of exactly one request each keeps the
      // stalled queue (one in the consumer, one queued) from absorbing them all into a single batch.
      processors: { batch: 'timeout: 20ms, send_batch_size: 40' },
      capture: 'sending_queue: { queue_size: 1, num_consumers: 1, block_on_overflow: false }',
    });
  });
  afterAll(async () => svc?.stop());

  it('OTLP/HTTP: the SDK exporter gets 429 + Retry-After, retries, and nothing is lost or doubled', async () => {
    svc.sink.records.length = 0;
    svc.sink.stall();
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ cluster: 'c' }),
      processors: [new BatchLogRecordProcessor(new ProtoLogExporter({ url: `http://127.0.0.1:${httpPort}/v1/logs`, timeoutMillis: 20_000 }), { maxExportBatchSize: 40, scheduledDelayMillis: 10, exportTimeoutMillis: 25_000 })],
    });
    const logger = provider.getLogger('forwarder');
    for (const rr of SAMPLES) logger.emit({ body: structuredClone(rr) as never, attributes: { service: 's', namespace: 'n' } });
    const flushed = provider.forceFlush();
    // Wait until the receiver has refused at least once, then let the exporter recover.
    try {
      await waitFor(async () => (await counterValue(svc.service, 'rrpipe_records_refused_total')) > 0, { timeoutMs: 20_000, what: 'a refusal' });
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      svc.sink.release();
    }
    await flushed;
    await provider.shutdown();
    await svc.sink.waitFor(SAMPLES.length);
    const counts = countByUuid(svc);
    expect(counts.size).toBe(SAMPLES.length);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(counts.keys())).toEqual(new Set(SAMPLES.map((s) => s.uuid)));
  });

  it('OTLP/gRPC: RESOURCE_EXHAUSTED with a RetryInfo; a client honouring it delivers everything exactly once', async () => {
    svc.sink.records.length = 0;
    svc.sink.stall();
    const chunks: Buffer[] = [];
    for (let i = 0; i < SAMPLES.length; i += 30) {
      chunks.push(Buffer.from(encodeLogsRequest(recordsToOtlpJson(SAMPLES.slice(i, i + 30).map((rr) => newRecord(structuredClone(rr)))))));
    }
    const codes: number[] = [];
    const delays: (number | undefined)[] = [];
    let released = false;
    for (const chunk of chunks) {
      for (;;) {
        const res = await grpcExport(grpcPort, chunk);
        if (res.ok) break;
        codes.push(res.err.code);
        const bin = res.err.metadata.get('grpc-status-details-bin')[0];
        const delay = bin ? retryDelayOfStatus(bin as Buffer) : undefined;
        delays.push(delay);
        if (res.err.code !== grpc.status.RESOURCE_EXHAUSTED && res.err.code !== grpc.status.UNAVAILABLE) throw res.err;
        if (!released && codes.length >= 2) {
          released = true;
          svc.sink.release();
        }
        await new Promise((r) => setTimeout(r, Math.min(delay ?? 1000, 200)));
      }
    }
    expect(codes.length).toBeGreaterThanOrEqual(2);
    expect(codes.every((c) => c === grpc.status.RESOURCE_EXHAUSTED)).toBe(true);
    expect(delays.every((d) => d !== undefined && d > 0)).toBe(true);
    await svc.sink.waitFor(SAMPLES.length);
    const counts = countByUuid(svc);
    expect(counts.size).toBe(SAMPLES.length);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
