import type { Component, ConfigProblem, Consumer, CreateSettings, ExporterFactory, Host } from '../../core/component.js';
import { bool, duration, int, obj, oneOf, path, exporterHelperProperties, type Config } from '../../config/fragments.js';
import { createExporter } from '../../helpers/exporter.js';
import { rrpairJsonOf, type RecordBatch, type RRRecord } from '../../core/record.js';
import { recordsToOtlpJson } from '../../rrpair/otlp.js';
import { isAbsolute, resolve } from 'node:path';
import { applyRetention, PartFile, recoverPartFiles } from './part-file.js';
import { PathTemplate } from './path-template.js';
import { OtelFile } from './otel-file.js';
import { BufferPool } from '../../helpers/buffer-pool.js';
import { ByteWriter } from '../../helpers/byte-writer.js';

/** rrpipe's rotation defaults (layout rrpipe), when the config has no rotation block. */
const RRPIPE_ROTATION = { max_megabytes: 100, interval: 3_600_000, max_idle: 5_000, max_days: 0, max_backups: 0, localtime: false };

function encode(records: RRRecord[], format: string, hint: LineSizeHint): Buffer {
  return format === 'raw_jsonl' ? jsonLines(records, hint) : Buffer.from(JSON.stringify(recordsToOtlpJson(records)) + '\n');
}

/** Encoded raw_jsonl batches, reused once written (see BufferPool). */
const lineBuffers = new BufferPool();

/**
 * Bytes per stringified line in a writer's last batch, to size its next batch's buffer: one per
 * writer, so exporters with very different records do not size each other's buffers.
 */
export class LineSizeHint {
  bytes = 2048;
}

/**
 * One RRPair JSON line per record, each written straight into the buffer: the JSON a record
 * arrived with when it is still true (copied), else the RRPair stringified and written at once,
 * so each string dies young instead of a batch of them living until all are measured.
 */
export function jsonLines(records: RRRecord[], hint: LineSizeHint, pool?: BufferPool): Buffer {
  const known = records.map((r) => rrpairJsonOf(r));
  let size = 0;
  let unknown = 0;
  for (const j of known) {
    if (j) size += j.length + 1;
    else unknown++;
  }
  const out = pool ? new ByteWriter(size + unknown * hint.bytes, (n) => pool.take(n), (b) => pool.give(b)) : new ByteWriter(size + unknown * hint.bytes);
  let stringified = 0;
  for (let i = 0; i < records.length; i++) {
    const j = known[i];
    if (j) out.bytes(j);
    else stringified += out.string(JSON.stringify(records[i]!.rrpair)) + 1;
    out.byte(0x0a);
  }
  if (unknown > 0) hint.bytes = Math.ceil(stringified / unknown);
  return out.written();
}

function absolute(p: string): string {
  return isAbsolute(p) ? p : resolve(process.cwd(), p);
}

/** layout otel: the OTel file exporter's behaviour (exactly `path`, lumberjack rotation). */
class OtelFileWriter {
  private readonly file: OtelFile;
  private timer?: NodeJS.Timeout;
  private readonly format: string;
  private readonly lineSize = new LineSizeHint();

  constructor(private readonly s: CreateSettings<FileExporterConfig>) {
    const c = s.config;
    this.format = c.format ?? 'json';
    const r = c.rotation;
    this.file = new OtelFile(absolute(c.path), {
      append: c.append ?? false,
      gzip: c.compression === 'gzip',
      ...(r ? { rotation: { max_megabytes: r.max_megabytes, max_days: r.max_days, max_backups: r.max_backups ?? 100, localtime: r.localtime ?? false } } : {}),
      onRotated: (backup, removed) => s.logger.debug({ backup, removed }, 'file rotated'),
    });
  }

  async start(): Promise<void> {
    await this.file.open();
    const every = this.s.config.flush_interval;
    if (every > 0) {
      this.timer = setInterval(() => void this.file.sync().catch((err) => this.s.logger.error({ err }, 'fsync failed')), every);
      this.timer.unref();
    }
  }

  push(batch: RecordBatch): Promise<void> {
    return this.file.write(encode(batch, this.format, this.lineSize), this.s.config.flush_interval === 0);
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.file.close();
  }
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

  private readonly rotation: typeof RRPIPE_ROTATION;
  private readonly lineSize = new LineSizeHint();

  constructor(private readonly s: CreateSettings<FileExporterConfig>) {
    const c = s.config;
    const r = c.rotation;
    this.rotation = r
      ? { ...RRPIPE_ROTATION, max_megabytes: r.max_megabytes, max_days: r.max_days, max_backups: r.max_backups ?? 0, interval: r.interval ?? RRPIPE_ROTATION.interval, max_idle: r.max_idle ?? RRPIPE_ROTATION.max_idle }
      : RRPIPE_ROTATION;
    let path = absolute(c.path);
    if (c.compression === 'gzip' && (c.append_extension ?? true) && !path.endsWith('.gz')) path += '.gz';
    this.template = new PathTemplate(path);
  }

  async start(_host: Host): Promise<void> {
    const { recovered, cutBytes } = await recoverPartFiles(this.template.baseDir());
    if (recovered.length) this.s.logger.warn({ files: recovered, torn_bytes_cut: cutBytes }, 'finished part files left by an earlier run');
    const c = this.s.config;
    const tick = Math.max(50, Math.min(...[c.flush_interval, this.rotation.interval, this.rotation.max_idle].filter((v) => v > 0), 1000));
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
    const format = c.format ?? 'raw_jsonl';
    if (format === 'raw_jsonl') {
      const data = jsonLines(records, this.lineSize, lineBuffers);
      try {
        await f.write(data, records.length);
      } finally {
        // Written (or failed): PartFile keeps no reference to the bytes.
        lineBuffers.give(Buffer.from(data.buffer, 0, data.buffer.byteLength));
      }
    } else await f.write(encode(records, format, this.lineSize), records.length);
    if (c.flush_interval === 0) await f.sync();
    if (this.rotation.max_megabytes > 0 && f.size >= this.rotation.max_megabytes * 1024 * 1024) this.finish(path, f);
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
    const c = this.rotation;
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
      const aged = this.rotation.interval > 0 && now - f.openedAt >= this.rotation.interval;
      const idle = this.rotation.max_idle > 0 && now - f.lastWriteAt >= this.rotation.max_idle;
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
  if (s.config.layout === 'otel') {
    const o = new OtelFileWriter(s);
    return createExporter(s, { push: (b) => o.push(b), start: () => o.start(), shutdown: () => o.shutdown() });
  }
  const w = new FileWriter(s);
  return createExporter(s, { push: (b) => w.push(b), start: (h) => w.start(h), shutdown: () => w.shutdown() });
}

const helper = exporterHelperProperties({ timeout: '30s' });
const queue = helper.sending_queue as { properties: { enabled: { default: boolean } } };
queue.properties.enabled = { ...queue.properties.enabled, default: false };

const schema = obj(
  {
    path: path(undefined, 'layout otel: the file written, exactly (as the OTel file exporter). layout rrpipe: a template with %Y %m %d %H %M %S (event time, UTC) and {service} {namespace} {cluster} {direction} {l7protocol}; files get a time and random suffix.'),
    layout: oneOf(['otel', 'rrpipe'], 'otel', 'otel: the OTel file exporter\'s output (exactly path, lumberjack rotation); rrpipe: rrpipe\'s partitioned part files, renamed when finished.'),
    format: oneOf(['json', 'otlp_json', 'raw_jsonl'], undefined, 'json / otlp_json: one OTLP logs JSON document per line (OTel\'s default, json); raw_jsonl: one RRPair per line. Default: json for layout otel, raw_jsonl for rrpipe.'),
    append: bool(undefined, 'layout otel: append to an existing file instead of truncating it at start (OTel\'s append). Default false.'),
    compression: oneOf(['none', 'gzip'], 'none', 'gzip writes each batch as a gzip member (rrpipe only; OTel offers zstd).'),
    append_extension: bool(undefined, 'layout rrpipe, with gzip: add .gz to the path when it has none. Default true.'),
    flush_interval: duration('1s', 'How often written data is fsynced; 0 fsyncs every batch before acknowledging it.'),
    rotation: obj({
      max_megabytes: int(100, 'Rotate the file at this size (MiB); 0: no size limit.', { minimum: 0 }),
      max_days: int(0, 'Delete rotated files older than this many days; 0: keep.', { minimum: 0 }),
      max_backups: int(undefined, 'Keep at most this many rotated files; 0: all. Default 100 (layout otel, as OTel), 0 (rrpipe).', { minimum: 0 }),
      localtime: bool(undefined, 'layout otel: local time instead of UTC in rotated file names. Default false.'),
      interval: duration(undefined, 'layout rrpipe: finish a file this long after it was opened; 0: never. Default 1h.'),
      max_idle: duration(undefined, 'layout rrpipe: finish a file when nothing was written to it for this long; 0: never. Default 5s.'),
    }),
    ...helper,
  },
  { required: ['path'] },
);

export type FileExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<FileExporterConfig> = {
  kind: 'exporter',
  type: 'file',
  stability: 'beta',
  description: 'Writes OTLP JSON to exactly its path with lumberjack rotation, as the OTel file exporter (layout otel), or raw.jsonl part files with event-time partitions, rotation, gzip and atomic rename (layout rrpipe).',
  schema,
  validate: (c) => {
    const problems: ConfigProblem[] = [];
    if (c.layout === 'otel' && /%[YmdHMS]|\{(service|namespace|cluster|direction|l7protocol)\}/.test(c.path)) {
      problems.push({ path: ['path'], message: 'path has template tokens (%Y, {service}, …): those need layout: rrpipe (layout otel writes exactly the path, as the OTel file exporter)' });
    }
    // a key of the other layout would be ignored: said, not silently dropped
    const other = c.layout === 'otel' ? 'rrpipe' : 'otel';
    const given: [string[], unknown][] = c.layout === 'otel'
      ? [[['append_extension'], c.append_extension], [['rotation', 'interval'], c.rotation?.interval], [['rotation', 'max_idle'], c.rotation?.max_idle]]
      : [[['append'], c.append], [['rotation', 'localtime'], c.rotation?.localtime]];
    for (const [path, v] of given) if (v !== undefined) problems.push({ path, message: `"${path.join('.')}" applies to layout ${other} only; this exporter has layout ${c.layout}` });
    return problems;
  },
  create: (s) => createFileExporter(s),
};
