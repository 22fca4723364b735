import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { freePort, tmp } from '../support/index.js';
import { expectedRRPair, SAMPLES } from './support.js';

async function send(exporter: LogRecordExporter, rrs: typeof SAMPLES, ids: { cluster: string; service: string; namespace: string }): Promise<void> {
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ cluster: ids.cluster }), processors: [new BatchLogRecordProcessor(exporter)] });
  const logger = provider.getLogger('speedscale-forwarder');
  for (const rr of rrs) logger.emit({ body: structuredClone(rr) as never, attributes: { service: ids.service, namespace: ids.namespace } });
  await provider.shutdown();
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
}

describe('configs/byoc/otlp-to-file.yaml runs as it is (ports moved for the test)', async () => {
  const registry = await builtinRegistry();
  it.skipIf(!registry.get('exporter', 'file'))('the SDK gRPC and HTTP exporters → otlp → batch → file: the files hold the samples, field for field', async () => {
    const [g, h, hc, m] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const data = tmp('rrpipe-byoc-');
    const text = readFileSync(join(import.meta.dirname, '../../configs/byoc/otlp-to-file.yaml'), 'utf8')
      .replace('0.0.0.0:4317', `127.0.0.1:${g}`)
      .replace('0.0.0.0:4318', `127.0.0.1:${h}`)
      .replace('0.0.0.0:13133', `127.0.0.1:${hc}`)
      .replace('      exporters: [file, debug]', '      exporters: [file]');
    const service = new Service({
      files: ['otlp-to-file.yaml'],
      texts: { 'otlp-to-file.yaml': `${text}\n  data_dir: ${data}/state\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n`},
      registry,
      env: { RRPIPE_DATA: data },
      logger: silentLogger(),
    });
    try {
      await service.start();
      const half = Math.ceil(SAMPLES.length / 2);
      await send(new GrpcLogExporter({ url: `http://127.0.0.1:${g}` }), SAMPLES.slice(0, half), { cluster: 'east', service: 'billing', namespace: 'prod' });
      await send(new ProtoLogExporter({ url: `http://127.0.0.1:${h}/v1/logs` }), SAMPLES.slice(half), { cluster: 'east', service: 'orders', namespace: 'prod' });
      await service.shutdown();
      const files = filesUnder(join(data, 'rrpairs'));
      expect(files.some((f) => /\/billing[^/]*\.jsonl\.gz$/.test(f))).toBe(true);
      expect(files.some((f) => /\/orders[^/]*\.jsonl\.gz$/.test(f))).toBe(true);
      const lines = files.flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      const byUuid = new Map(lines.map((l) => [l.uuid, l]));
      expect(lines).toHaveLength(SAMPLES.length);
      SAMPLES.forEach((rr, i) => {
        const ids = i < half ? { cluster: 'east', service: 'billing', namespace: 'prod' } : { cluster: 'east', service: 'orders', namespace: 'prod' };
        expect(byUuid.get(rr.uuid)).toEqual(expectedRRPair(rr, ids));
      });
    } finally {
      await service.shutdown().catch(() => undefined);
      rmSync(data, { recursive: true, force: true });
    }
  });
});
