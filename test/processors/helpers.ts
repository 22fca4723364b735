import type { Consumer, ProcessorFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type Context, type RecordBatch, type RRRecord } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import type { RRPair } from '../../src/rrpair/types.js';

export { allSamples } from '../support/index.js';

/** Collects what reaches the next stage. */
export class Sink implements Consumer {
  batches: RecordBatch[] = [];
  get records(): RRRecord[] {
    return this.batches.flat();
  }
  async consume(batch: RecordBatch, _ctx: Context): Promise<void> {
    this.batches.push(batch);
  }
}

/** Config through the schema (defaults filled, units converted), as the config loader does. */
export function configOf<C>(factory: ProcessorFactory<C>, raw: unknown = {}): C {
  const value = structuredClone(raw);
  const problems = validateAgainst(factory.schema, value);
  if (problems.length) throw new Error(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; '));
  const extra = factory.validate?.(value as C) ?? [];
  if (extra.length) throw new Error(extra.map((p) => p.message).join('; '));
  return value as C;
}

export async function makeProcessor<C>(factory: ProcessorFactory<C>, raw: unknown = {}) {
  const telemetry = new Telemetry({ processMetrics: false });
  const sink = new Sink();
  const id = factory.type;
  const proc = await factory.create(
    { id, kind: 'processor', config: configOf(factory, raw), logger: silentLogger(), metrics: telemetry.forComponent(id, 'processor', 'test'), pipeline: 'test', configDir: process.cwd() },
    sink,
  );
  await proc.start({} as never);
  return { proc, sink, telemetry };
}

export function rec(rr: RRPair, init: Parameters<typeof newRecord>[1] = {}): RRRecord {
  return newRecord(rr, { observedNs: 1_700_000_000_000_000_000n, ...init });
}

export const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
