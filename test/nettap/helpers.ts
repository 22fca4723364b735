import { execFile } from 'node:child_process';
import type { Consumer } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RRRecord } from '../../src/core/record.js';
import { noopMetrics, Telemetry, type ComponentMetrics } from '../../src/core/telemetry.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { factory, type NettapConfig } from '../../src/receivers/nettap/index.js';

export class Collector implements Consumer {
  records: RRRecord[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  async consume(batch: RRRecord[]): Promise<void> {
    this.records.push(...batch);
    this.waiters = this.waiters.filter((w) => (this.records.length >= w.n ? (w.resolve(), false) : true));
  }
  /** Wait until at least n records arrived (or fail after ms). */
  waitFor(n: number, ms = 10_000): Promise<RRRecord[]> {
    if (this.records.length >= n) return Promise.resolve(this.records);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${this.records.length} of ${n} records arrived`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve(this.records)) });
    });
  }
  clear(): void {
    this.records = [];
  }
}

export function nettapConfig(raw: unknown): NettapConfig {
  const cfg = structuredClone(raw) as Record<string, unknown>;
  const problems = validateAgainst(factory.schema, cfg);
  if (problems.length) throw new Error(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; '));
  const extra = factory.validate?.(cfg as unknown as NettapConfig) ?? [];
  if (extra.length) throw new Error(extra.map((p) => p.message).join('; '));
  return cfg as unknown as NettapConfig;
}

export function createNettap(raw: unknown, next: Consumer, metrics: ComponentMetrics = noopMetrics()) {
  return factory.create({ id: 'nettap', kind: 'receiver', config: nettapConfig(raw), logger: silentLogger(), metrics, configDir: process.cwd() }, next) as unknown;
}

export function run(cmd: string, args: string[], opts: { input?: string; timeout?: number } = {}): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: 'buffer', timeout: opts.timeout ?? 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0, stdout: stdout as Buffer, stderr: stderr.toString() });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export { Telemetry };

export function decode(b64: string | undefined): Buffer {
  return Buffer.from(b64 ?? '', 'base64');
}
