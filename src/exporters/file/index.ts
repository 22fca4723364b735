import type { Component, Consumer, CreateSettings, ExporterFactory, Host } from '../../core/component.js';
import { bool, duration, int, obj, oneOf, path, exporterHelperProperties } from '../../config/fragments.js';
import { createExporter, type ExporterHelperConfig } from '../../helpers/exporter.js';
import type { RecordBatch, RRRecord } from '../../core/record.js';
import { recordsToOtlpJson } from '../../rrpair/otlp.js';
import { isAbsolute, resolve } from 'node:path';
import { applyRetention, PartFile, recoverPartFiles } from './part-file.js';
import { PathTemplate } from './path-template.js';

export interface FileExporterConfig extends ExporterHelperConfig {
  path: string;
  format: 'raw_jsonl' | 'otlp_json';
  compression: 'none' | 'gzip';
  flush_interval: number;
  rotation: {
    max_megabytes: number;
    interval: number;
    max_idle: number;
    max_days: number;
    max_backups: number;
  };
  append_extension: boolean;
}

/**
 * Writes records as raw.jsonl (one RRPair per line, exactly a Speedscale raw.jsonl) or OTLP JSON,
 * into files named by a path template with event-time partitions. Files are written under a
 * hidden part name and renamed when finished (size, age, idle time, shutdown).
 */
class FileWriter {
  private readonly template: PathTemplate;
  private readonly open = new Map<string, PartFile>();
  /** Part files being created, so concurrent first batches for one path share one file. */
  private readonly opening = new Map<string, Promise<PartFile>>();
  private timer?: NodeJS.Timeout;
  private readonly finishing = new Set<Promise<unknown>>();

  constructor(private readonly s: CreateSettings<FileExporterConfig>) {
    const c = s.config;
    let path = isAbsolute(c.path) ? c.path : resolve(process.cwd(), c.path);
    if (c.compression === 'gzip' && c.append_extension && !path.endsWith('.gz')) path += '.gz';
    this.template = new PathTemplate(path);
  }

  async start(_host: Host): Promise<void> {
    const { recovered, cutBytes } = await recoverPartFiles(this.template.baseDir());
    if (recovered.length) this.s.logger.warn({ files: recovered, torn_bytes_cut: cutBytes }, 'finished part files left by an earlier run');
    const c = this.s.config;
    const tick = Math.max(50, Math.min(...[c.flush_interval, c.rotation.interval, c.rotation.max_idle].filter((v) => v > 0), 1000));
    this.timer = setInterval(() => void this.onTick(), tick);
    this.timer.unref();
  }

  async push(batch: RecordBatch): Promise<void> {
    const groups = new Map<string, RRRecord[]>();
    for (const r of batch) {
      const p = this.template.render(r);
      let g = groups.get(p);
      if (!g) groups.set(p, (g = []));
      g.push(r);
    }
    await Promise.all([...groups].map(([p, recs]) => this.writeTo(p, recs)));
  }

  private async writeTo(path: string, records: RRRecord[]): Promise<void> {
    const c = this.s.config;
    const f = this.open.get(path) ?? (await this.openFile(path));
    const data =
      c.format === 'otlp_json'
        ? Buffer.from(JSON.stringify(recordsToOtlpJson(records)) + '\n')
        : Buffer.from(records.map((r) => JSON.stringify(r.rrpair)).join('\n') + '\n');
    await f.write(data, records.length);
    if (c.flush_interval === 0) await f.sync();
    if (c.rotation.max_megabytes > 0 && f.size >= c.rotation.max_megabytes * 1024 * 1024) this.finish(path, f);
  }

  /** The open part file for a path, created once however many batches ask for it at the same time. */
  private openFile(path: string): Promise<PartFile> {
    let p = this.opening.get(path);
    if (!p) {
      p = PartFile.create(path, this.s.config.compression === 'gzip').then((f) => {
        this.open.set(path, f);
        return f;
      });
      this.opening.set(path, p);
      const created = p;
      void p.then(
        () => this.opening.get(path) === created && this.opening.delete(path),
        () => this.opening.get(path) === created && this.opening.delete(path),
      );
    }
    return p;
  }

  private readonly finishingFiles = new WeakMap<PartFile, Promise<unknown>>();

  /** Finish a file once: concurrent batches that each push it over max_megabytes ask more than once. */
  private finish(path: string, f: PartFile): Promise<unknown> {
    if (this.open.get(path) === f) this.open.delete(path);
    const already = this.finishingFiles.get(f);
    if (already) return already;
    const c = this.s.config.rotation;
    const p = f
      .finish()
      .then(async (final) => {
        if (!final) return;
        this.s.logger.debug({ file: final, records: f.records }, 'file finished');
        const removed = await applyRetention(final, c.max_days, c.max_backups);
        if (removed) this.s.logger.info({ removed }, 'old files removed (rotation.max_days / max_backups)');
      })
      .catch((err) => this.s.logger.error({ err, file: f.partPath }, 'cannot finish file; it stays as a part file and is recovered at the next start'));
    this.finishingFiles.set(f, p);
    this.finishing.add(p);
    void p.finally(() => this.finishing.delete(p));
    return p;
  }

  private ticking = false;

  /** Finish aged or idle files and fsync the others. Ticks never overlap (a slow fsync delays the next). */
  private async onTick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.tick();
    } finally {
      this.ticking = false;
    }
  }

  private async tick(): Promise<void> {
    const c = this.s.config;
    const now = Date.now();
    for (const [path, f] of [...this.open]) {
      const aged = c.rotation.interval > 0 && now - f.openedAt >= c.rotation.interval;
      const idle = c.rotation.max_idle > 0 && now - f.lastWriteAt >= c.rotation.max_idle;
      if (aged || idle) this.finish(path, f);
      else if (c.flush_interval > 0) await f.sync().catch((err) => this.s.logger.error({ err }, 'fsync failed'));
    }
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.opening.values()]);
    for (const [path, f] of [...this.open]) this.finish(path, f);
    while (this.finishing.size) await Promise.all([...this.finishing]);
  }
}

export function createFileExporter(s: CreateSettings<FileExporterConfig>): Component & Consumer {
  const w = new FileWriter(s);
  return createExporter(s, { push: (b) => w.push(b), start: (h) => w.start(h), shutdown: () => w.shutdown() });
}

const helper = exporterHelperProperties({ timeout: '30s' });
const queue = helper.sending_queue as { properties: { enabled: { default: boolean } } };
queue.properties.enabled = { ...queue.properties.enabled, default: false };

export const factory: ExporterFactory<FileExporterConfig> = {
  kind: 'exporter',
  type: 'file',
  stability: 'beta',
  description: 'Writes raw.jsonl (or OTLP JSON) files with event-time partitions, rotation, gzip and atomic rename.',
  schema: obj(
    {
      path: path(undefined, 'File path template: %Y %m %d %H %M %S (event time, UTC) and {service} {namespace} {cluster} {direction} {l7protocol}.'),
      format: oneOf(['raw_jsonl', 'otlp_json'], 'raw_jsonl', 'raw_jsonl: one RRPair JSON object per line. otlp_json: one OTLP logs JSON document per line.'),
      compression: oneOf(['none', 'gzip'], 'none', 'gzip writes .gz files.'),
      append_extension: bool(true, 'With gzip, add .gz to the path when it has none.'),
      flush_interval: duration('1s', 'How often written data is fsynced; 0 fsyncs every batch before acknowledging it.'),
      rotation: obj({
        max_megabytes: int(100, 'Finish a file at this size (MiB); 0: no size limit.', { minimum: 0 }),
        interval: duration('1h', 'Finish a file this long after it was opened; 0: never.'),
        max_idle: duration('5s', 'Finish a file when nothing was written to it for this long; 0: never.'),
        max_days: int(0, 'Delete finished files older than this many days; 0: keep.', { minimum: 0 }),
        max_backups: int(0, 'Keep at most this many finished files per directory; 0: all.', { minimum: 0 }),
      }, { default: {} }),
      ...helper,
    },
    { required: ['path'] },
  ),
  create: (s) => createFileExporter(s),
};
