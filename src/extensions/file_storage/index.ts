import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Component, ExtensionFactory, Host } from '../../core/component.js';
import { bool, bytes, duration, obj, path, raw, withDefault, type Config } from '../../config/fragments.js';
import type { QueueOptions, QueueStorage } from '../../helpers/exporter.js';
import type { BatchQueue } from '../../helpers/memory-queue.js';
import { SegmentQueue, type FsyncMode } from './segment-queue.js';

/** The file_storage extension: persistent sending queues for exporters (sending_queue.storage). */
export class FileStorage implements Component, QueueStorage {
  private readonly queues = new Set<SegmentQueue>();
  private dir = '';

  constructor(private readonly id: string, private readonly cfg: FileStorageConfig, private readonly configDir: string) {}

  async start(host: Host): Promise<void> {
    this.dir = this.cfg.directory
      ? resolve(this.configDir, this.cfg.directory)
      : join(host.dataDir, 'file_storage', safeName(this.id));
    if (!this.cfg.create_directory && !existsSync(this.dir)) throw new Error(`file_storage directory ${this.dir} does not exist (create_directory: false)`);
  }

  get directory(): string {
    return this.dir;
  }

  async createQueue(owner: string, opts: QueueOptions): Promise<BatchQueue> {
    if (!this.dir) throw new Error(`extension ${this.id} is not started`);
    const fsync: FsyncMode = this.cfg.fsync === true ? 'write' : this.cfg.fsync === false ? 'none' : this.cfg.fsync;
    const q = await SegmentQueue.open({
      dir: join(this.dir, safeName(owner)),
      capacity: opts.capacity,
      sizer: opts.sizer,
      block: opts.block,
      maxBytes: this.cfg.max_size,
      segmentBytes: Math.min(this.cfg.segment_size, this.cfg.max_size),
      fsync,
      fsyncIntervalMs: this.cfg.fsync_interval,
      metrics: opts.metrics,
      logger: opts.logger,
    });
    this.queues.add(q);
    return q;
  }

  async shutdown(): Promise<void> {
    for (const q of this.queues) await q.dispose();
    this.queues.clear();
  }
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

const schema = obj({
    directory: path(undefined, 'Where the queues live (one subdirectory per exporter). Default: <service.data_dir>/file_storage/<id>.'),
    create_directory: bool(true, 'Create the directory when it does not exist.'),
    fsync: withDefault(raw<FsyncMode | boolean>({ enum: ['write', 'interval', 'none', true, false], description: 'When queued data is forced to disk: every write (a batch is acknowledged only once on disk), every fsync_interval, or never (left to the OS). true = write, false = none.' }), 'write'),
    fsync_interval: duration('1s', 'With fsync: interval, how often.'),
    max_size: bytes('1GiB', 'Disk budget of each queue; when reached, the queue refuses (or blocks) new data and keeps the old.'),
    segment_size: bytes('8MiB', 'Size at which a segment file is closed and a new one started; acknowledged segments are deleted.'),
  });

export type FileStorageConfig = Config<typeof schema>;

export const factory: ExtensionFactory<FileStorageConfig> = {
  kind: 'extension',
  type: 'file_storage',
  stability: 'beta',
  description: 'Persistent sending queues on local disk: checksummed segments, fsync policy, bounded by bytes.',
  schema,
  validate: (c) => (c.segment_size < 1024 ? [{ path: ['segment_size'], message: 'segment_size must be at least 1KiB' }] : []),
  create: (s) => new FileStorage(s.id, s.config, s.configDir),
};
