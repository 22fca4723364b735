import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AnyConsumer, Host, InputProtector, Item } from '../core/component.js';
import { isMetricPoint, pointJson, type MetricPoint } from '../core/metric.js';
import type { ComponentMetrics } from '../core/telemetry.js';

export interface DeadLetterConfig {
  path?: string;
  exporter?: string;
  /** Receivers: keep refused input in clear (default: only its hash, size and the reason). */
  raw?: boolean;
}

/** One dead-letter line: what failed, why, and the RRPair (or the raw text that could not be parsed). */
export interface DeadLetterEntry {
  reason: string;
  component: string;
  time: string;
  rrpair?: unknown;
  raw?: string;
  source?: string;
  /** True when `raw` / `rrpair` passed through the pipeline's redaction before it was written. */
  redacted?: boolean;
  /** Instead of the input, when it is kept out of the file: its SHA-256 and size. */
  sha256?: string;
  bytes?: number;
  /** The record's uuid, when only a hash is kept. */
  id?: string;
}

/**
 * Where records go that can never be delivered. A directory gets one raw.jsonl-like file per
 * component and day, each line carrying the reason; an exporter id forwards the records there
 * (falling back to the directory if that exporter refuses).
 *
 * A write to the directory is synced to disk before `records` resolves, so a batch a persistent
 * queue forgets after dead-lettering is really kept. A write that fails is counted as dropped
 * (reason dead_letter_failed) instead of dead-lettered, so the loss equation stays true.
 */
export class DeadLetter {
  private file?: { day: string; fh: FileHandle };
  private readonly dir: string;
  private readonly exporter?: string;
  /** Writes run one after the other (raw() does not wait). */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly component: string,
    cfg: DeadLetterConfig | undefined,
    defaultDir: string,
    private readonly metrics: ComponentMetrics,
    private readonly logger: Logger,
    private readonly host?: Host,
    opts: { protectInput?: boolean; protector?: InputProtector } = {},
  ) {
    this.dir = cfg?.path ?? defaultDir;
    this.exporter = cfg?.exporter;
    const protect = (opts.protectInput ?? false) && cfg?.raw !== true;
    this.protector = protect ? opts.protector : undefined;
    this.hashOnly = protect && !opts.protector;
  }

  /**
   * Receivers dead-letter input before the pipeline's processors ran: when the pipeline redacts,
   * the input is written as its redaction leaves it; otherwise only a hash, the size and the
   * reason reach the disk (`dead_letter.raw: true` keeps the input as it came). Exporters
   * dead-letter what the pipeline produced, as it would have been exported.
   */
  private readonly hashOnly: boolean;
  private readonly protector: InputProtector | undefined;

  get destination(): string {
    return this.exporter ? `exporter ${this.exporter}` : this.dir;
  }

  /** The file that lines written now go to. */
  fileFor(day = new Date().toISOString().slice(0, 10)): string {
    return join(this.dir, `${this.component.replace(/[^A-Za-z0-9_.-]/g, '_')}-${day}.jsonl`);
  }

  async records(batch: Item[], reason: string): Promise<void> {
    if (batch.length === 0) return;
    const label = shortReason(reason);
    if (this.exporter) {
      const target: AnyConsumer | undefined = this.host?.getExporter(this.exporter);
      if (target) {
        try {
          await target.consume(batch, {});
          this.metrics.deadLettered(batch.length, label);
          this.logger.warn({ records: batch.length, reason, destination: this.destination }, 'records dead-lettered');
          return;
        } catch (err) {
          this.logger.error({ err, exporter: this.exporter }, 'dead-letter exporter refused; writing to the dead-letter directory instead');
        }
      } else {
        this.logger.error({ exporter: this.exporter }, 'dead-letter exporter is not running; writing to the dead-letter directory instead');
      }
    }
    const time = new Date().toISOString();
    const lines = batch.map((r) => (isMetricPoint(r) ? this.metricLine(r, reason, time) : this.recordLine(r.rrpair, reason, time))).join('\n') + '\n';
    try {
      await this.write(time.slice(0, 10), lines);
      this.metrics.deadLettered(batch.length, label);
      this.logger.warn({ records: batch.length, reason, destination: this.dir }, 'records dead-lettered');
    } catch (err) {
      this.metrics.dropped(batch.length, 'dead_letter_failed');
      this.logger.error({ err, records: batch.length, reason, destination: this.dir }, 'dead-letter write failed: records lost');
    }
  }

  private metricLine(p: MetricPoint, reason: string, time: string): string {
    const text = pointJson(p);
    if (!this.hashOnly) return `{"reason":${JSON.stringify(reason)},"component":${JSON.stringify(this.component)},"time":"${time}","metric":${text}}`;
    return JSON.stringify({ reason, component: this.component, time, sha256: sha256(text), bytes: Buffer.byteLength(text) });
  }

  private recordLine(rrpair: unknown, reason: string, time: string): string {
    const base = { reason, component: this.component, time };
    let text: string;
    try {
      if (this.protector) return JSON.stringify({ ...base, redacted: true, rrpair: this.protector.protectRRPair(rrpair) } satisfies DeadLetterEntry);
      text = JSON.stringify(rrpair);
    } catch (err) {
      // e.g. nested too deeply to serialize (RangeError): keep what identifies it.
      const id = (rrpair as { uuid?: unknown } | null)?.uuid;
      return JSON.stringify({ ...base, ...(typeof id === 'string' ? { id } : {}), reason: `${reason} (record not serializable: ${(err as Error).message})` } satisfies DeadLetterEntry);
    }
    if (!this.hashOnly) return `{"reason":${JSON.stringify(reason)},"component":${JSON.stringify(this.component)},"time":"${time}","rrpair":${text}}`;
    const id = (rrpair as { uuid?: unknown } | null)?.uuid;
    return JSON.stringify({ ...base, ...(typeof id === 'string' ? { id } : {}), sha256: sha256(text), bytes: Buffer.byteLength(text) } satisfies DeadLetterEntry);
  }

  /** A line that never became a record (malformed input). The promise resolves once it is written (it never rejects). */
  raw(raw: string, reason: string, source?: string): Promise<void> {
    const kept = this.hashOnly ? hashOf(raw) : this.protector ? this.protectedText(raw) : { raw };
    const e: DeadLetterEntry = { reason, component: this.component, time: new Date().toISOString(), ...kept, ...(source ? { source } : {}) };
    return this.write(e.time.slice(0, 10), JSON.stringify(e) + '\n').then(
      () => this.metrics.deadLettered(1, shortReason(reason)),
      (err) => {
        this.metrics.dropped(1, 'dead_letter_failed');
        this.logger.error({ err, reason }, 'dead-letter write failed: line lost');
      },
    );
  }

  /** Redaction that fails (input too deep to walk) keeps only the hash: fail closed. */
  private protectedText(raw: string): Pick<DeadLetterEntry, 'raw' | 'redacted' | 'sha256' | 'bytes'> {
    try {
      return { raw: this.protector!.protectText(raw), redacted: true };
    } catch {
      return hashOf(raw);
    }
  }

  private write(day: string, text: string): Promise<void> {
    const next = this.chain.then(async () => {
      if (!this.file || this.file.day !== day) {
        await this.file?.fh.close().catch(() => undefined);
        this.file = undefined;
        mkdirSync(this.dir, { recursive: true });
        this.file = { day, fh: await open(this.fileFor(day), 'a') };
      }
      await this.file.fh.appendFile(text);
      await this.file.fh.datasync();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    const f = this.file;
    this.file = undefined;
    await f?.fh.close().catch(() => undefined);
  }
}

/** A reason as a metric label: bounded cardinality (no ids, no numbers). */
export function shortReason(reason: string): string {
  return reason.split(':')[0]!.replace(/[0-9]+/g, 'N').slice(0, 60);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function hashOf(raw: string): { sha256: string; bytes: number } {
  return { sha256: sha256(raw), bytes: Buffer.byteLength(raw) };
}
