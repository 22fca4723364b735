// Throughput of the sending queue: in-memory vs persistent (file_storage) with each fsync policy.
// A producer offers batches (4 in flight, as a batch processor's max_in_flight would) while one
// consumer takes and acknowledges them, like an exporter with an instant backend.
// Run after a build: `node bench/queue.mjs` (or `npm run bench`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryQueue } from '../dist/helpers/memory-queue.js';
import { SegmentQueue } from '../dist/extensions/file_storage/segment-queue.js';
import { newRecord } from '../dist/core/record.js';

const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 400);
const IN_FLIGHT = 4;

function rrpair(n) {
  return {
    msgType: 'rrpair', resource: 'bench', ts: new Date().toISOString(), l7protocol: 'http', duration: 12,
    uuid: Buffer.alloc(16, n % 256).toString('base64'), direction: 'IN', cluster: 'c', namespace: 'ns', service: 'svc',
    http: { req: { url: `/api/orders/${n}`, method: 'POST', headers: { 'Content-Type': ['application/json'] }, bodyBase64: Buffer.alloc(600, 97).toString('base64') },
      res: { statusCode: 200, headers: {}, bodyBase64: Buffer.alloc(200, 98).toString('base64') } },
  };
}
const batches = Array.from({ length: BATCHES }, (_, b) => Array.from({ length: BATCH }, (_, i) => newRecord(rrpair(b * BATCH + i))));
const bytesPerRecord = Buffer.byteLength(JSON.stringify(batches[0][0].rrpair));

async function run(name, makeQueue) {
  const q = await makeQueue();
  const t0 = process.hrtime.bigint();
  let taken = 0;
  const consumer = (async () => {
    while (taken < BATCHES) {
      const item = await q.take();
      if (!item) break;
      taken++;
      await item.ack();
    }
  })();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < BATCHES) await q.offer(batches[next++]);
  }));
  await consumer;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await q.dispose?.();
  const recs = BATCHES * BATCH;
  console.log(`${name.padEnd(34)} ${Math.round(recs / s).toString().padStart(9)} records/s ${((recs * bytesPerRecord) / s / 1048576).toFixed(1).padStart(7)} MiB/s`);
}

const dirs = [];
const disk = (fsync) => () => {
  const dir = mkdtempSync(join(tmpdir(), 'rrpipe-bench-q-'));
  dirs.push(dir);
  return SegmentQueue.open({ dir, capacity: 1e9, sizer: 'items', block: true, maxBytes: 4 * 1024 ** 3, segmentBytes: 8 * 1024 ** 2, fsync, fsyncIntervalMs: 1000 });
};

console.log(`sending queue: ${BATCHES} batches of ${BATCH} records (~${bytesPerRecord} bytes each), ${IN_FLIGHT} offers in flight`);
try {
  await run('memory', () => new MemoryQueue(1e9, 'items', true));
  await run('file_storage fsync: write (per batch)', disk('write'));
  await run('file_storage fsync: interval (1s)', disk('interval'));
  await run('file_storage fsync: none', disk('none'));
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
