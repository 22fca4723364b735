import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Consumer, Host } from '../core/component.js';
import type { RecordBatch } from '../core/record.js';
import type { ComponentMetrics } from '../core/telemetry.js';

export interface DeadLetterConfig {
  path?: string;
  exporter?: string;
}

/** One dead-letter line: what failed, why, and the RRPair (or the raw text that could not be parsed). */
export interface DeadLetterEntry {
  reason: string;
  component: string;
  time: string;
  rrpair?: unknown;
  raw?: string;
  source?: string;
}

/**
 * Where records go that can never be delivered. A directory gets one raw.jsonl-like file per
 * component and day, each line carrying the reason; an exporter id forwards the records there.
 */
export class DeadLetter {
  private stream?: WriteStream;
  private streamDay = '';
  private readonly dir: string;

  constructor(
    private readonly component: string,
    cfg: DeadLetterConfig | undefined,
    defaultDir: string,
    private readonly metrics: ComponentMetrics,
    private readonly logger: Logger,
    private readonly host?: Host,
  ) {
    this.dir = cfg?.path ?? defaultDir;
    this.exporter = cfg?.exporter;
  }
  private readonly exporter?: string;

  get destination(): string {
    return this.exporter ? `exporter ${this.exporter}` : this.dir;
  }

  async records(batch: RecordBatch, reason: string): Promise<void> {
    if (batch.length === 0) return;
    this.metrics.deadLettered(batch.length, shortReason(reason));
    this.logger.warn({ records: batch.length, reason, destination: this.destination }, 'records dead-lettered');
    if (this.exporter) {
      const target = this.host?.getExporter(this.exporter);
      if (target) {
        try {
          await target.consume(batch, {});
          return;
        } catch (err) {
          this.logger.error({ err, exporter: this.exporter }, 'dead-letter exporter refused; writing to the dead-letter directory instead');
        }
      }
    }
    for (const r of batch) this.write({ reason, component: this.component, time: new Date().toISOString(), rrpair: r.rrpair });
  }

  /** A line that never became a record (malformed input). */
  raw(raw: string, reason: string, source?: string): void {
    this.metrics.deadLettered(1, shortReason(reason));
    this.write({ reason, component: this.component, time: new Date().toISOString(), raw, ...(source ? { source } : {}) });
  }

  private write(e: DeadLetterEntry): void {
    const day = e.time.slice(0, 10);
    if (!this.stream || day !== this.streamDay) {
      this.stream?.end();
      mkdirSync(this.dir, { recursive: true });
      this.stream = createWriteStream(join(this.dir, `${this.component.replace(/[^A-Za-z0-9_.-]/g, '_')}-${day}.jsonl`), { flags: 'a' });
      this.streamDay = day;
    }
    this.stream.write(JSON.stringify(e) + '\n');
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((r) => s.end(r));
  }
}

/** A reason as a metric label: bounded cardinality (no ids, no numbers). */
export function shortReason(reason: string): string {
  return reason.split(':')[0]!.replace(/[0-9]+/g, 'N').slice(0, 60);
}
