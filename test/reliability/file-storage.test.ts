import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackpressureError } from '../../src/core/errors.js';
import { newRecord, type RecordBatch } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { SegmentQueue, segmentFiles, type SegmentQueueOptions } from '../../src/extensions/file_storage/segment-queue.js';
import { tmp as supportTmp } from '../support/index.js';

const dirs: string[] = [];
function tmp(): string {
  const d = supportTmp('rrpipe-fs-');
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let seq = 0;
function batch(n: number, pad = 0): RecordBatch {
  return Array.from({ length: n }, () => newRecord({ uuid: `u${seq++}`, msgType: 'rrpair', ...(pad ? { pad: 'x'.repeat(pad) } : {}) } as never, { attributes: { service: 'svc' } }));
}
const uuids = (b: RecordBatch) => b.map((r) => r.rrpair.uuid as string);

function opts(dir: string, o: Partial<SegmentQueueOptions> = {}): SegmentQueueOptions {
  return { dir, capacity: 10_000, sizer: 'items', block: false, maxBytes: 64 * 1024 * 1024, segmentBytes: 4096, fsync: 'write', fsyncIntervalMs: 50, ...o };
}

async function takeAll(q: SegmentQueue, ack = true): Promise<string[]> {
  const out: string[] = [];
  while (q.items > 0) {
    const item = await q.take();
    if (!item) break;
    out.push(...uuids(item.batch));
    if (ack) await item.ack();
    if (!ack && out.length >= q.items) break;
  }
  return out;
}

describe('file_storage persistent queue', () => {
  it('recovers unacknowledged batches after a reopen, in order, with record fields intact', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir));
    const b1 = batch(3);
    b1[0]!.location = 's3://b/k#1';
    await q.offer(b1);
    await q.offer(batch(2));
    await q.offer(batch(4));
    const first = await q.take();
    await first!.ack();
    await q.dispose();

    const t = new Telemetry({ processMetrics: false });
    const q2 = await SegmentQueue.open(opts(dir, { metrics: t.forComponent('exp', 'exporter') }));
    expect(q2.items).toBe(6);
    expect(q2.report.recovered).toBe(6);
    expect(q2.report.lost).toBe(0);
    const b = await q2.take();
    expect(b!.batch).toHaveLength(2);
    expect(typeof b!.batch[0]!.observedNs).toBe('bigint');
    expect(b!.batch[0]!.attributes).toEqual({ service: 'svc' });
    await b!.ack();
    const c = await q2.take();
    expect(c!.batch).toHaveLength(4);
    await c!.ack();
    expect(q2.items).toBe(0);
    expect(await t.total('dropped' as never)).toBe(0);
    await q2.dispose();
  });

  it('deletes segments once everything in them is acknowledged', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { segmentBytes: 2048 }));
    for (let i = 0; i < 20; i++) await q.offer(batch(2, 200));
    expect(segmentFiles(dir).length).toBeGreaterThan(3);
    const got = await takeAll(q);
    expect(got).toHaveLength(40);
    expect(segmentFiles(dir).length).toBeLessThanOrEqual(1);
    await q.dispose();
    const q2 = await SegmentQueue.open(opts(dir));
    expect(q2.items).toBe(0);
    await q2.dispose();
  });

  it('acknowledged batches are not delivered again after a restart, even out of order', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { segmentBytes: 100_000 }));
    for (let i = 0; i < 5; i++) await q.offer(batch(1));
    const items: NonNullable<Awaited<ReturnType<SegmentQueue['take']>>>[] = [];
    for (let i = 0; i < 5; i++) items.push((await q.take())!);
    await items[1]!.ack();
    await items[3]!.ack();
    const expectLeft = [0, 2, 4].map((i) => items[i]!.batch[0]!.rrpair.uuid);
    await q.dispose();
    const q2 = await SegmentQueue.open(opts(dir));
    expect(await takeAll(q2)).toEqual(expectLeft);
    await q2.dispose();
  });

  it('refuses with BackpressureError at the byte cap and keeps the oldest data', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { maxBytes: 8192, segmentBytes: 2048 }));
    let accepted = 0;
    let refused: unknown;
    for (let i = 0; i < 100; i++) {
      try {
        await q.offer(batch(1, 300));
        accepted++;
      } catch (err) {
        refused = err;
        break;
      }
    }
    expect(refused).toBeInstanceOf(BackpressureError);
    expect(accepted).toBeGreaterThan(5);
    expect(q.bytesOnDisk).toBeLessThanOrEqual(8192);
    // Nothing was dropped to make room: every accepted record is still there.
    await q.dispose();
    const q2 = await SegmentQueue.open(opts(dir, { maxBytes: 8192, segmentBytes: 2048 }));
    const got = await takeAll(q2);
    expect(got).toHaveLength(accepted);
    expect(got[0]).toBe(`u${seq - accepted - 1}`);
    await q2.dispose();
  });

  it('with block_on_overflow, a full queue holds the sender until a consumer frees room', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { capacity: 4, block: true }));
    await q.offer(batch(2));
    await q.offer(batch(2));
    let done = false;
    const p = q.offer(batch(2)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    const item = await q.take();
    await item!.ack();
    await p;
    expect(done).toBe(true);
    expect(q.items).toBe(4);
    await q.dispose();
  });

  it('a corrupted segment is skipped with an exact count of lost records; the rest is delivered', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { segmentBytes: 1500 }));
    const all: string[] = [];
    for (let i = 0; i < 30; i++) {
      const b = batch(3, 100);
      all.push(...uuids(b));
      await q.offer(b);
    }
    await q.dispose();
    const segs = segmentFiles(dir);
    expect(segs.length).toBeGreaterThan(4);
    // Flip bytes in the middle of the second segment (a frame header and payload)...
    const s1 = readFileSync(segs[1]!);
    for (let i = 40; i < 60; i++) s1[i] = s1[i]! ^ 0xff;
    writeFileSync(segs[1]!, s1);
    // ...and cut the third one in half.
    truncateSync(segs[2]!, Math.floor(readFileSync(segs[2]!).length / 2));

    const t = new Telemetry({ processMetrics: false });
    const m = t.forComponent('exp', 'exporter');
    const q2 = await SegmentQueue.open(opts(dir, { metrics: m }));
    const got = await takeAll(q2);
    const lost = q2.report.lost;
    expect(lost).toBeGreaterThan(0);
    expect(got.length + lost).toBe(all.length);
    expect(new Set(got).size).toBe(got.length);
    for (const u of got) expect(all).toContain(u);
    expect(q2.report.problems.map((p) => p.file)).toEqual(expect.arrayContaining([segs[1], segs[2]]));
    expect(await t.total('dropped', { reason: 'corrupt_segment' })).toBe(lost);
    const text = await t.text();
    expect(text).toMatch(/rrpipe_records_recovered_total\{[^}]*component="exp"[^}]*\} 90/);
    await q2.dispose();
  });

  it('a segment of garbage and a damaged header never stop the queue from opening', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { segmentBytes: 1500 }));
    for (let i = 0; i < 12; i++) await q.offer(batch(2, 100));
    await q.dispose();
    const segs = segmentFiles(dir);
    writeFileSync(segs[0]!, Buffer.alloc(700, 0x5a));
    const s = readFileSync(segs[1]!);
    s[2] = s[2]! ^ 0xff; // segment header
    writeFileSync(segs[1]!, s);
    writeFileSync(join(dir, '0000000000000099.seg'), Buffer.alloc(0));
    const q2 = await SegmentQueue.open(opts(dir));
    const got = await takeAll(q2);
    expect(got.length + q2.report.lost).toBeLessThanOrEqual(24);
    expect(got.length).toBeGreaterThan(0);
    // New data still goes in and comes out after the damage.
    await q2.offer(batch(1));
    expect(await takeAll(q2)).toHaveLength(1);
    await q2.dispose();
  });

  it('a torn write at the end of the last segment is ignored and the queue keeps working', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir, { segmentBytes: 1_000_000 }));
    for (let i = 0; i < 5; i++) await q.offer(batch(2));
    await q.dispose();
    const [seg] = segmentFiles(dir);
    const buf = readFileSync(seg!);
    writeFileSync(seg!, Buffer.concat([buf, buf.subarray(16, 60)])); // half a frame
    const q2 = await SegmentQueue.open(opts(dir));
    expect(q2.report.lost).toBe(0);
    expect(await takeAll(q2)).toHaveLength(10);
    await q2.dispose();
  });

  for (const fsync of ['write', 'interval', 'none'] as const) {
    it(`fsync ${fsync}: concurrent offers are all durable and in one queue`, async () => {
      const dir = tmp();
      const q = await SegmentQueue.open(opts(dir, { fsync, segmentBytes: 64 * 1024 }));
      await Promise.all(Array.from({ length: 50 }, () => q.offer(batch(2, 50))));
      expect(q.items).toBe(100);
      await q.dispose();
      const q2 = await SegmentQueue.open(opts(dir));
      expect(q2.items).toBe(100);
      expect(new Set(await takeAll(q2)).size).toBe(100);
      await q2.dispose();
    });
  }

  it('refuses to open the same directory twice', async () => {
    const dir = tmp();
    const q = await SegmentQueue.open(opts(dir));
    await expect(SegmentQueue.open(opts(dir))).rejects.toThrow(/already open/);
    await q.dispose();
  });
});
