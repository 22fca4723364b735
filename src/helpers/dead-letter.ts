import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
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
  private fd?: number;
  private fdDay = '';
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
    const time = new Date().toISOString();
    this.write(batch.map((r) => ({ reason, component: this.component, time, rrpair: r.rrpair })));
  }

  /** A line that never became a record (malformed input). */
  raw(raw: string, reason: string, source?: string): void {
    this.metrics.deadLettered(1, shortReason(reason));
    this.write([{ reason, component: this.component, time: new Date().toISOString(), raw, ...(source ? { source } : {}) }]);
  }

  /** Synchronous and fsynced: dead letters are rare, and must be on disk before anyone is told they were handled. */
  private write(entries: DeadLetterEntry[]): void {
    if (entries.length === 0) return;
    const day = entries[0]!.time.slice(0, 10);
    if (this.fd === undefined || day !== this.fdDay) {
      if (this.fd !== undefined) closeSync(this.fd);
      mkdirSync(this.dir, { recursive: true });
      this.fd = openSync(join(this.dir, `${this.component.replace(/[^A-Za-z0-9_.-]/g, '_')}-${day}.jsonl`), 'a');
      this.fdDay = day;
    }
    writeSync(this.fd, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    fsyncSync(this.fd);
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A reason as a metric label: bounded cardinality (no ids, no numbers). */
export function shortReason(reason: string): string {
  return reason.split(':')[0]!.replace(/[0-9]+/g, 'N').slice(0, 60);
}
