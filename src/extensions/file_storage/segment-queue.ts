import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { BackpressureError, RetryableError, ShutdownError } from '../../core/errors.js';
import { isMetricPoint, pointFromJson, pointJsonValue, type MetricPoint } from '../../core/metric.js';
import type { RecordBatch, RRRecord } from '../../core/record.js';
import type { ComponentMetrics } from '../../core/telemetry.js';
import { sizeOf, type BatchQueue, type QueuedBatch, type Sizer } from '../../helpers/memory-queue.js';

/*
 * On-disk format. A queue is a directory of segment files `<seq>.seg`, each with an ack file
 * `<seq>.ack` next to it.
 *
 * Segment header (16 bytes): magic "RRQS" | startCum u64 | crc32 of the first 12 bytes.
 *   startCum: how many records the queue had ever written before this segment.
 * Frame (one queued batch): 32-byte header then the payload (JSON of the batch).
 *   magic "RRQ1" | payloadLen u32 | items u32 | reserved u32 | cum u64 | payloadCrc u32 | headerCrc u32
 *   cum: records written before this frame; with startCum it lets recovery count exactly how many
 *   records a corrupt region held, even when a frame's header is destroyed.
 * Ack record (12 bytes): offset u32 | items u32 | crc32 of the first 8 bytes.
 *
 * Segments are written once, never appended to after a restart, and deleted in order once every
 * frame in them is acknowledged (so the segments on disk are contiguous, which the loss count needs).
 */

const SEG_MAGIC = 0x52525153; // RRQS
const FRAME_MAGIC = 0x52525131; // RRQ1
const SEG_HEADER = 16;
const FRAME_HEADER = 32;
const ACK_RECORD = 12;

export type FsyncMode = 'write' | 'interval' | 'none';

export interface SegmentQueueOptions {
  dir: string;
  capacity: number;
  sizer: Sizer;
  block: boolean;
  /** Bound on the bytes the queue's segment files take on disk. */
  maxBytes: number;
  segmentBytes: number;
  fsync: FsyncMode;
  fsyncIntervalMs: number;
  /** Decoded batches kept in memory so that a consumer need not re-read what was just written. */
  cacheBytes?: number;
  metrics?: ComponentMetrics;
  logger?: Logger;
}

export interface RecoveryReport {
  segments: number;
  /** Records found queued and not yet acknowledged. */
  recovered: number;
  /** Records lost to corruption (counted as dropped, reason corrupt_segment). */
  lost: number;
  /** Unreadable bytes skipped. */
  corruptBytes: number;
  problems: { file: string; message: string; lostRecords: number; bytes: number }[];
}

interface Segment {
  seq: number;
  path: string;
  ackPath: string;
  /** Frames (by offset) not yet acknowledged. */
  live: Set<number>;
  /** Size of the segment file on disk. */
  bytes: number;
  writable: boolean;
  deleted?: boolean;
  read?: Promise<FileHandle>;
  ack?: Promise<FileHandle>;
}

interface Entry {
  seg: Segment;
  offset: number;
  frameBytes: number;
  items: number;
  units: number;
  batch?: RecordBatch;
  cached: number;
}

interface PendingWrite {
  frame: Buffer;
  items: number;
  units: number;
  batch: RecordBatch;
  resolve(): void;
  reject(err: unknown): void;
}

const openDirs = new Set<string>();

/** A persistent BatchQueue made of checksummed segment files. See the format above. */
export class SegmentQueue implements BatchQueue {
  readonly persistent = true;
  private readonly segments: Segment[] = [];
  private readonly ready: Entry[] = [];
  private readonly takers: (() => void)[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private pending: PendingWrite[] = [];
  private writing?: Promise<void>;
  private writer?: { seg: Segment; fh: FileHandle; dirty: boolean };
  private nextSeq = 1;
  private cum = 0n;
  private liveUnits = 0;
  private reservedUnits = 0;
  private reservedBytes = 0;
  private diskBytes = 0;
  private cachedBytes = 0;
  private closed = false;
  private disposed = false;
  private syncTimer?: NodeJS.Timeout;
  items = 0;
  readonly capacity: number;
  report!: RecoveryReport;

  private constructor(private readonly o: SegmentQueueOptions) {
    this.capacity = o.capacity;
  }

  /** Open (or create) the queue in `dir`, recovering what it held. Corruption is counted, never thrown. */
  static async open(o: SegmentQueueOptions): Promise<SegmentQueue> {
    if (openDirs.has(o.dir)) throw new Error(`persistent queue ${o.dir} is already open`);
    mkdirSync(o.dir, { recursive: true });
    openDirs.add(o.dir);
    const q = new SegmentQueue(o);
    try {
      q.recover();
    } catch (err) {
      openDirs.delete(o.dir);
      throw err;
    }
    if (o.fsync === 'interval') {
      q.syncTimer = setInterval(() => void q.syncNow(), Math.max(1, o.fsyncIntervalMs));
      q.syncTimer.unref();
    }
    return q;
  }

  get bytesOnDisk(): number {
    return this.diskBytes;
  }

  // ---- recovery ---------------------------------------------------------------------------

  private recover(): void {
    const report: RecoveryReport = { segments: 0, recovered: 0, lost: 0, corruptBytes: 0, problems: [] };
    this.report = report;
    const seqs = readdirSync(this.o.dir)
      .map((f) => /^(\d{16})\.seg$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    // Ack files whose segment is gone are leftovers of an interrupted delete.
    for (const f of readdirSync(this.o.dir)) {
      const m = /^(\d{16})\.ack$/.exec(f);
      if (m && !seqs.includes(Number(m[1]))) rmSync(join(this.o.dir, f), { force: true });
    }
    interface Scan { seg: Segment; start?: bigint; firstCum?: bigint; endCum?: bigint; valid: number; ackedUnmatched: number; badBytes: number; notes: string[] }
    const scans: Scan[] = [];
    for (const seq of seqs) {
      const seg = this.segmentFor(seq, false);
      const scan: Scan = { seg, valid: 0, ackedUnmatched: 0, badBytes: 0, notes: [] };
      scans.push(scan);
      let buf: Buffer;
      try {
        buf = readFileSync(seg.path);
      } catch (err) {
        scan.notes.push(`unreadable: ${(err as Error).message}`);
        buf = Buffer.alloc(0);
      }
      seg.bytes = buf.length;
      const acks = this.readAcks(seg, scan.notes);
      let pos = 0;
      if (buf.length >= SEG_HEADER && buf.readUInt32BE(0) === SEG_MAGIC && crc32(buf.subarray(0, 12)) === buf.readUInt32BE(12)) {
        scan.start = buf.readBigUInt64BE(4);
        pos = SEG_HEADER;
      } else {
        scan.notes.push('segment header is damaged');
      }
      let badStart = -1;
      const endBad = (at: number) => {
        if (badStart >= 0) {
          scan.badBytes += at - badStart;
          badStart = -1;
        }
      };
      while (pos < buf.length) {
        const f = parseFrame(buf, pos);
        if (f === 'bad') {
          if (badStart < 0) badStart = pos;
          pos++;
          continue;
        }
        endBad(pos);
        scan.firstCum ??= f.cum;
        scan.endCum = f.cum + BigInt(f.items);
        const acked = acks.get(pos);
        if (acked !== undefined) acks.delete(pos);
        if (acked !== undefined) {
          scan.valid += f.items;
        } else if (!f.payloadOk) {
          // The header is intact, so the count is exact; the records are lost (counted below).
          scan.notes.push(`frame at ${pos}: payload checksum mismatch`);
          scan.badBytes += f.frameBytes;
        } else {
          let batch: RecordBatch | undefined;
          try {
            batch = decodeBatch(buf.subarray(pos + FRAME_HEADER, pos + f.frameBytes));
          } catch (err) {
            scan.notes.push(`frame at ${pos}: undecodable payload: ${(err as Error).message}`);
          }
          if (batch) {
            scan.valid += f.items;
            const units = sizeOf(batch, this.o.sizer);
            seg.live.add(pos);
            this.ready.push({ seg, offset: pos, frameBytes: f.frameBytes, items: f.items, units, cached: 0 });
            this.items += f.items;
            this.liveUnits += units;
            report.recovered += f.items;
          }
        }
        pos += f.frameBytes;
      }
      endBad(buf.length);
      for (const items of acks.values()) scan.ackedUnmatched += items;
      this.diskBytes += seg.bytes;
      report.segments++;
    }
    // Count what the damaged regions held: each segment spans [start, next segment's start).
    let prevEnd: bigint | undefined;
    for (let i = 0; i < scans.length; i++) {
      const s = scans[i]!;
      const start = s.start ?? prevEnd ?? s.firstCum;
      const end = scans[i + 1]?.start ?? s.endCum ?? start;
      let lost = 0;
      if (start !== undefined && end !== undefined) {
        lost = Math.max(0, Number(end - start) - s.valid - s.ackedUnmatched);
      }
      prevEnd = end;
      if (end !== undefined && end > this.cum) this.cum = end;
      if (lost > 0 || s.badBytes > 0 || s.notes.length) {
        const file = s.seg.path;
        const tail = i === scans.length - 1 && lost === 0 && s.badBytes > 0 ? ' (torn write at the end of the last segment: a batch that was never acknowledged)' : '';
        report.problems.push({ file, message: s.notes.join('; ') + tail, lostRecords: lost, bytes: s.badBytes });
        report.lost += lost;
        report.corruptBytes += s.badBytes;
      }
      this.segments.push(s.seg);
    }
    this.maybeDeleteHead();
    if (seqs.length) this.nextSeq = seqs[seqs.length - 1]! + 1;
    const m = this.o.metrics;
    if (report.recovered + report.lost > 0) m?.counter('records_recovered', 'Records found in a persistent queue at start (including those lost to corruption).').inc({}, report.recovered + report.lost);
    if (report.lost > 0) m?.dropped(report.lost, 'corrupt_segment');
    for (const p of report.problems) {
      this.o.logger?.error({ file: p.file, lost_records: p.lostRecords, corrupt_bytes: p.bytes, problem: p.message }, 'persistent queue: damaged segment skipped');
    }
    if (report.recovered || report.lost) {
      this.o.logger?.info({ dir: this.o.dir, recovered_records: report.recovered, lost_records: report.lost, segments: report.segments }, 'persistent queue recovered');
    }
  }

  private readAcks(seg: Segment, notes: string[]): Map<number, number> {
    const acks = new Map<number, number>();
    let buf: Buffer;
    try {
      buf = readFileSync(seg.ackPath);
    } catch {
      return acks;
    }
    let bad = 0;
    for (let p = 0; p + ACK_RECORD <= buf.length; p += ACK_RECORD) {
      if (crc32(buf.subarray(p, p + 8)) !== buf.readUInt32BE(p + 8)) {
        bad++;
        continue;
      }
      acks.set(buf.readUInt32BE(p), buf.readUInt32BE(p + 4));
    }
    if (bad) notes.push(`${bad} damaged ack record(s) (those batches are delivered again)`);
    return acks;
  }

  private segmentFor(seq: number, writable: boolean): Segment {
    const name = String(seq).padStart(16, '0');
    return { seq, path: join(this.o.dir, `${name}.seg`), ackPath: join(this.o.dir, `${name}.ack`), live: new Set(), bytes: 0, writable };
  }

  // ---- offer / write ----------------------------------------------------------------------

  async offer(batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    const payload = encodeBatch(batch);
    const frame = buildFrame(payload, batch.length);
    const units = sizeOf(batch, this.o.sizer);
    for (;;) {
      if (this.closed) throw new ShutdownError('persistent queue is closed');
      if (signal?.aborted) throw signal.reason;
      const problem = this.fits(units, frame.length);
      if (!problem) break;
      if (!this.block) throw new BackpressureError(`persistent queue is full (${problem})`, { retryAfterMs: 1000 });
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.spaceWaiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    this.reservedUnits += units;
    this.reservedBytes += frame.length;
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ frame, items: batch.length, units, batch, resolve, reject });
      this.kick();
    });
  }

  private get block(): boolean {
    return this.o.block;
  }

  /** Why a batch does not fit now, or undefined. An empty queue takes any batch, so none waits forever. */
  private fits(units: number, bytes: number): string | undefined {
    const usedUnits = this.liveUnits + this.reservedUnits;
    const usedBytes = this.diskBytes + this.reservedBytes;
    if (usedUnits === 0 && usedBytes === 0) return undefined;
    if (usedUnits + units > this.capacity) return `${usedUnits}/${this.capacity} ${this.o.sizer}`;
    if (usedBytes + bytes + SEG_HEADER > this.o.maxBytes) {
      if (this.liveUnits + this.reservedUnits === 0) return undefined; // only acknowledged data left; it is being deleted
      return `${usedBytes}/${this.o.maxBytes} bytes on disk`;
    }
    return undefined;
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = undefined;
      if (this.pending.length) this.kick();
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.length) {
      const group = this.pending;
      this.pending = [];
      const cumBefore = this.cum;
      try {
        await this.writeGroup(group);
      } catch (err) {
        this.o.logger?.error({ err, dir: this.o.dir }, 'persistent queue: write failed');
        // Whatever part of the group reached the file is unreadable garbage to recovery (no ack): start a new segment.
        await this.closeWriter().catch(() => undefined);
        this.cum = cumBefore;
        for (const w of group) {
          this.reservedUnits -= w.units;
          this.reservedBytes -= w.frame.length;
          w.reject(new RetryableError(`persistent queue write failed: ${(err as Error).message}`, { cause: err }));
        }
        this.wakeSpace();
      }
    }
  }

  private async writeGroup(group: PendingWrite[]): Promise<void> {
    const entries: { w: PendingWrite; e: Entry }[] = [];
    let chunk: Buffer[] = [];
    const flush = async () => {
      if (!chunk.length || !this.writer) return;
      const buf = chunk.length === 1 ? chunk[0]! : Buffer.concat(chunk);
      chunk = [];
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.writer.fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      this.writer.dirty = true;
    };
    for (const w of group) {
      if (!this.writer || (this.writer.seg.bytes > SEG_HEADER && this.writer.seg.bytes + w.frame.length > this.o.segmentBytes)) {
        await flush();
        await this.rollWriter();
      }
      const seg = this.writer!.seg;
      // The frame's cumulative count is set now that its order is final.
      w.frame.writeBigUInt64BE(this.cum, 16);
      w.frame.writeUInt32BE(crc32(w.frame.subarray(0, 28)), 28);
      this.cum += BigInt(w.items);
      const e: Entry = { seg, offset: seg.bytes, frameBytes: w.frame.length, items: w.items, units: w.units, cached: 0 };
      seg.bytes += w.frame.length;
      this.diskBytes += w.frame.length;
      chunk.push(w.frame);
      entries.push({ w, e });
    }
    await flush();
    if (this.o.fsync === 'write') await this.syncNow();
    for (const { w, e } of entries) {
      this.reservedUnits -= w.units;
      this.reservedBytes -= w.frame.length;
      this.liveUnits += w.units;
      this.items += w.items;
      e.seg.live.add(e.offset);
      const budget = this.o.cacheBytes ?? 16 * 1024 * 1024;
      if (this.cachedBytes + w.frame.length <= budget) {
        e.batch = w.batch;
        e.cached = w.frame.length;
        this.cachedBytes += e.cached;
      }
      this.push(e);
      w.resolve();
    }
  }

  private async rollWriter(): Promise<void> {
    await this.closeWriter();
    const seg = this.segmentFor(this.nextSeq++, true);
    const fh = await open(seg.path, 'wx');
    const header = Buffer.alloc(SEG_HEADER);
    header.writeUInt32BE(SEG_MAGIC, 0);
    header.writeBigUInt64BE(this.cum, 4);
    header.writeUInt32BE(crc32(header.subarray(0, 12)), 12);
    await fh.write(header, 0, SEG_HEADER);
    if (this.o.fsync === 'write') {
      // The new file's directory entry must be on disk too, or a power loss could forget the whole segment.
      const d = await open(this.o.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    }
    seg.bytes = SEG_HEADER;
    this.diskBytes += SEG_HEADER;
    this.segments.push(seg);
    this.writer = { seg, fh, dirty: true };
  }

  private async closeWriter(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    this.writer = undefined;
    w.seg.writable = false;
    try {
      if (w.dirty && this.o.fsync !== 'none') await w.fh.datasync();
    } finally {
      await w.fh.close();
    }
    this.maybeDeleteHead();
  }

  private async syncNow(): Promise<void> {
    const w = this.writer;
    if (!w || !w.dirty) return;
    w.dirty = false;
    try {
      await w.fh.datasync();
    } catch (err) {
      w.dirty = true;
      if (this.o.fsync === 'write') throw err;
      this.o.logger?.error({ err }, 'persistent queue: fsync failed');
    }
  }

  // ---- take / ack -------------------------------------------------------------------------

  private push(e: Entry): void {
    this.ready.push(e);
    this.takers.shift()?.();
  }

  async take(): Promise<QueuedBatch | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const e = this.ready.shift();
      if (!e) {
        await new Promise<void>((resolve) => this.takers.push(resolve));
        continue;
      }
      if (!e.batch) {
        try {
          e.batch = await this.load(e);
        } catch (err) {
          // The disk changed under us: count the loss, forget the entry, go on with the next.
          this.o.logger?.error({ err, file: e.seg.path, offset: e.offset, lost_records: e.items }, 'persistent queue: damaged batch skipped');
          this.o.metrics?.dropped(e.items, 'corrupt_segment');
          await this.ack(e);
          continue;
        }
      }
      const batch = e.batch;
      let acked = false;
      return {
        batch,
        ack: async () => {
          if (acked) return;
          acked = true;
          await this.ack(e);
        },
      };
    }
  }

  private async load(e: Entry): Promise<RecordBatch> {
    e.seg.read ??= open(e.seg.path, 'r');
    const fh = await e.seg.read;
    const buf = Buffer.allocUnsafe(e.frameBytes);
    const { bytesRead } = await fh.read(buf, 0, e.frameBytes, e.offset);
    const f = bytesRead === e.frameBytes ? parseFrame(buf, 0) : 'bad';
    if (f === 'bad' || !f.payloadOk) throw new CorruptEntryError(`${e.seg.path}@${e.offset}: checksum mismatch on read`, e.items);
    return decodeBatch(buf.subarray(FRAME_HEADER, f.frameBytes));
  }

  private async ack(e: Entry): Promise<void> {
    if (e.cached) {
      this.cachedBytes -= e.cached;
      e.cached = 0;
    }
    e.batch = undefined;
    this.liveUnits -= e.units;
    this.items -= e.items;
    e.seg.live.delete(e.offset);
    if (e.seg.live.size === 0 && !e.seg.writable) this.maybeDeleteHead();
    if (!e.seg.deleted && !this.disposed) {
      // The segment stays (it is being written, or an older one is not done): record the ack.
      const rec = Buffer.alloc(ACK_RECORD);
      rec.writeUInt32BE(e.offset, 0);
      rec.writeUInt32BE(e.items, 4);
      rec.writeUInt32BE(crc32(rec.subarray(0, 8)), 8);
      try {
        e.seg.ack ??= open(e.seg.ackPath, 'a');
        const fh = await e.seg.ack;
        await fh.write(rec, 0, ACK_RECORD);
      } catch (err) {
        // A lost ack only means the batch is delivered again after a restart (at least once).
        if (!e.seg.deleted) this.o.logger?.warn({ err }, 'persistent queue: could not record an acknowledgement');
      }
    }
    this.wakeSpace();
  }

  /** Delete fully acknowledged segments from the head, in order. */
  private maybeDeleteHead(): void {
    while (this.segments.length) {
      const s = this.segments[0]!;
      if (s.writable || s.live.size > 0) break;
      this.segments.shift();
      this.deleteSegment(s);
    }
    this.wakeSpace();
  }

  private deleteSegment(s: Segment): void {
    const closeLater = (p?: Promise<FileHandle>) => p?.then((fh) => fh.close()).catch(() => undefined);
    void closeLater(s.read);
    void closeLater(s.ack);
    rmSync(s.path, { force: true });
    rmSync(s.ackPath, { force: true });
    s.deleted = true;
    this.diskBytes -= s.bytes;
    s.bytes = 0;
  }

  private wakeSpace(): void {
    this.spaceWaiters.splice(0).forEach((w) => w());
  }

  /** Stop taking offers; take() returns undefined from now on (what is queued stays on disk). */
  close(): void {
    this.closed = true;
    this.takers.splice(0).forEach((t) => t());

    this.wakeSpace();
  }

  /** Finish pending writes, sync and release the files. */
  async dispose(): Promise<void> {
    this.close();
    if (this.syncTimer) clearInterval(this.syncTimer);
    while (this.writing) await this.writing;
    await this.closeWriter().catch((err) => this.o.logger?.error({ err }, 'persistent queue: close failed'));
    this.disposed = true;
    for (const s of this.segments) {
      for (const p of [s.read, s.ack]) await p?.then((fh) => fh.close()).catch(() => undefined);
      s.read = undefined;
      s.ack = undefined;
    }
    openDirs.delete(this.o.dir);
  }

  /** Records in the queue by state, for tests and the loss equation. */
  stats(): { items: number; units: number; bytesOnDisk: number; segments: number } {
    return { items: this.items, units: this.liveUnits, bytesOnDisk: this.diskBytes, segments: this.segments.length };
  }
}

/** A queued batch that could not be read back (the disk changed under us). */
export class CorruptEntryError extends Error {
  override name = 'CorruptEntryError';
  constructor(message: string, readonly items: number) {
    super(message);
  }
}

function parseFrame(buf: Buffer, pos: number): 'bad' | { frameBytes: number; items: number; cum: bigint; payloadOk: boolean } {
  if (pos + FRAME_HEADER > buf.length) return 'bad';
  if (buf.readUInt32BE(pos) !== FRAME_MAGIC) return 'bad';
  if (crc32(buf.subarray(pos, pos + 28)) !== buf.readUInt32BE(pos + 28)) return 'bad';
  const len = buf.readUInt32BE(pos + 4);
  if (pos + FRAME_HEADER + len > buf.length) return 'bad';
  const payloadOk = crc32(buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len)) === buf.readUInt32BE(pos + 24);
  return { frameBytes: FRAME_HEADER + len, items: buf.readUInt32BE(pos + 8), cum: buf.readBigUInt64BE(pos + 16), payloadOk };
}

function buildFrame(payload: Buffer, items: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(items, 8);
  frame.writeUInt32BE(0, 12);
  frame.writeBigUInt64BE(0n, 16);
  frame.writeUInt32BE(crc32(payload), 24);
  frame.writeUInt32BE(0, 28);
  payload.copy(frame, FRAME_HEADER);
  return frame;
}

/** A batch of records, or of metric points (a metrics exporter's queue): each kind keeps its bigint timestamps. */
function encodeBatch(batch: RecordBatch | MetricPoint[]): Buffer {
  if (isMetricPoint(batch[0])) return Buffer.from(JSON.stringify(batch, pointJsonValue));
  return Buffer.from(JSON.stringify(batch, (k, v) => (k === 'observedNs' && typeof v === 'bigint' ? v.toString() : v)));
}

function decodeBatch(buf: Buffer): RecordBatch {
  const arr = JSON.parse(buf.toString('utf8')) as (Omit<RRRecord, 'observedNs'> & { observedNs: string })[];
  if (!Array.isArray(arr)) throw new Error('payload is not a batch');
  if (arr.length > 0 && !('rrpair' in arr[0]!)) return arr.map((p) => pointFromJson(p as unknown as Record<string, unknown>)) as unknown as RecordBatch;
  return arr.map((r) => ({ ...r, observedNs: BigInt(r.observedNs ?? 0) }));
}

/** For tests and tools: the segment files of a queue directory, oldest first. */
export function segmentFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.seg')).sort().map((f) => join(dir, f)).filter((p) => statSync(p).isFile());
  } catch {
    return [];
  }
}
