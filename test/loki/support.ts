import { rmSync } from 'node:fs';
import type { Component, Consumer } from '../../src/core/component.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { factory, type LokiExporterConfig } from '../../src/exporters/loki/index.js';
import { readDeadLetters, testHost, tmp, waitFor } from '../support/index.js';

export interface BuiltLoki {
  exporter: Component & Consumer;
  dir: string;
  telemetry: Telemetry;
  deadLetters(): Promise<{ reason: string; rrpair?: { uuid?: string } }[]>;
  stop(): Promise<void>;
}

/** A loki exporter with its config through the schema (defaults filled), started on a test Host. */
export async function buildLoki(raw: Record<string, unknown>): Promise<BuiltLoki> {
  const config = structuredClone(raw);
  const problems = validateAgainst(factory.schema, config);
  const extra = factory.validate?.(config as LokiExporterConfig) ?? [];
  if (problems.length || extra.length) throw new Error([...problems.map((p) => `${p.path.join('.')}: ${p.message}`), ...extra.map((p) => p.message)].join('; '));
  const dir = tmp('rrpipe-loki-');
  const telemetry = new Telemetry({ processMetrics: false });
  const exporter = await factory.create({ id: 'loki', kind: 'exporter', config: config as LokiExporterConfig, logger: silentLogger(), metrics: telemetry.forComponent('loki', 'exporter'), configDir: dir });
  await exporter.start(testHost(dir));
  const read = () => readDeadLetters<{ reason: string; rrpair?: { uuid?: string } }>(dir);
  return {
    exporter, dir, telemetry,
    async deadLetters() {
      // The dead-letter file is written through a stream: wait until what was counted is on disk.
      await waitFor(async () => read().length > 0, { timeoutMs: 5_000 }).catch(() => undefined);
      return read();
    },
    async stop() {
      await exporter.shutdown(AbortSignal.timeout(10_000));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Exporter settings for tests: no queue (consume returns once delivered or dead-lettered), fast retries. */
export const FAST = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '10ms', max_interval: '50ms', max_elapsed_time: '3s' },
} as const;
