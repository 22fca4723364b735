import type { ExporterFactory, ProcessorFactory } from '../../src/core/component.js';
import { obj, str, int } from '../../src/config/fragments.js';
import type { RecordBatch, RRRecord } from '../../src/core/record.js';
import { RetryableError } from '../../src/core/errors.js';
import { builtinRegistry } from '../../src/components.js';
import type { Registry } from '../../src/core/registry.js';

/** Records captured per exporter id, and switches to make a capture exporter refuse. */
export const sinks = new Map<string, RRRecord[]>();
export const failures = new Map<string, number>();

/** An exporter for tests: keeps what it receives in `sinks`; refuses with RetryableError while failures[id] > 0. */
export const captureExporter: ExporterFactory<{ label: string }> = {
  kind: 'exporter',
  type: 'capture',
  stability: 'development',
  description: 'test: captures records in memory',
  schema: obj({ label: str('') }),
  create: (s) => {
    const key = s.config.label || s.id;
    if (!sinks.has(key)) sinks.set(key, []);
    return {
      async start() {},
      async shutdown() {},
      async consume(batch: RecordBatch) {
        const left = failures.get(key) ?? 0;
        if (left > 0) {
          failures.set(key, left - 1);
          throw new RetryableError('capture told to fail');
        }
        sinks.get(key)!.push(...batch);
      },
    };
  },
};

/** A processor for tests that changes each record in place (sets rrpair.service). */
export const stampProcessor: ProcessorFactory<{ value: string; delay_ms: number }> = {
  kind: 'processor',
  type: 'stamp',
  stability: 'development',
  mutatesData: true,
  description: 'test: writes rrpair.service in place',
  schema: obj({ value: str('stamped'), delay_ms: int(0) }),
  create: (s, next) => ({
    async start() {},
    async shutdown() {},
    async consume(batch, ctx) {
      if (s.config.delay_ms) await new Promise((r) => setTimeout(r, s.config.delay_ms));
      for (const r of batch) r.rrpair.service = s.config.value;
      await next.consume(batch, ctx);
    },
  }),
};

export async function testRegistry(): Promise<Registry> {
  const r = await builtinRegistry();
  r.register(captureExporter);
  r.register(stampProcessor);
  return r;
}
