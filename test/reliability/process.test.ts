import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, sleep, tmpDir, waitFor } from '../support/index.js';
import { configYaml, Daemon, Feeder, Sink, uuidOf, type DaemonOptions } from './harness.js';

/*
 * rrpipe as a real child process, killed and restarted with real signals, fed numbered RRPairs
 * over HTTP by a sender that resends until acknowledged, delivering to an HTTP backend in this
 * process that records every uuid. Outages are kept to a few seconds to keep CI time low.
 */

const cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => requireBuild());

async function setup(opts: Partial<DaemonOptions> = {}) {
  const t = tmpDir('rrpipe-rel-');
  const sink = new Sink();
  await sink.start();
  const daemon = new Daemon(Daemon.write(t.dir, configYaml({ sinkUrl: sink.url, dir: t.dir, ...opts })));
  cleanups.push(t.cleanup, () => sink.stop(), async () => {
    if (daemon.running) await daemon.kill9();
  });
  return { dir: t.dir, sink, daemon };
}

function missingAcked(feeder: Feeder, sink: Sink, except: Set<string> = new Set()): number[] {
  return [...feeder.acked].filter((n) => !sink.seen.has(uuidOf(n)) && !except.has(uuidOf(n)));
}

async function expectBalanced(daemon: Daemon, component = 'httpsink') {
  const eq = (await daemon.metrics()).lossEquation(component);
  expect(eq.left, JSON.stringify(eq.parts)).toBe(eq.right);
  return eq.parts;
}

function queueBytes(dir: string): number {
  const q = join(dir, 'queue', 'httpsink');
  if (!existsSync(q)) return 0;
  return readdirSync(q).filter((f) => f.endsWith('.seg')).reduce((a, f) => a + statSync(join(q, f)).size, 0);
}

describe('delivery under real process failures', () => {
  /**
   * Kills the daemon `runs` times at random moments while the feeders send, then restarts it with
   * the backend healthy: every record a feeder had acknowledged must reach the sink.
   */
  async function killNineUnderLoad(daemon: Daemon, sink: Sink, feeders: Feeder[], runs: number): Promise<void> {
    const acked = () => feeders.reduce((n, f) => n + f.acked.size, 0);
    for (const f of feeders) f.start();
    let recoveredAtStart = 0;
    for (let i = 0; i < runs; i++) {
      // Every other run the backend hangs, so the kill surely hits acknowledged records still queued;
      // otherwise it is slow, keeping a backlog.
      sink.mode = i % 2 === 0 ? { kind: 'hang' } : { kind: 'slow', ms: 15 };
      await daemon.start();
      recoveredAtStart += daemon.logs.filter((l) => l.msg === 'persistent queue recovered').length;
      // Each run acknowledges at least one more batch before it is killed, at a random moment after that.
      const before = acked();
      await waitFor(() => acked() >= before + 25, { timeoutMs: 20_000, what: `run ${i} to acknowledge a batch` });
      await sleep(Math.random() * 500);
      await daemon.kill9();
      daemon.logs = [];
    }
    await daemon.start();
    await Promise.all(feeders.map((f) => f.stop()));
    sink.mode = { kind: 'ok' };
    expect(acked()).toBeGreaterThanOrEqual(runs * 25);
    const missing = () => feeders.reduce((n, f) => n + missingAcked(f, sink).length, 0);
    await waitFor(() => missing() === 0, { timeoutMs: 30_000, what: 'every acknowledged record at the sink' });
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_queue_size', { component: 'httpsink' }) === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    const parts = await expectBalanced(daemon);
    expect(parts.dropped).toBe(0);
    expect(recoveredAtStart).toBeGreaterThan(0);
    const dups = [...sink.seen.values()].filter((c) => c > 1).length;
    console.log(`kill -9 x${runs}, ${feeders.length} sender(s): ${acked()} acknowledged, all delivered; ${dups} delivered more than once (at least once)`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }

  it('kill -9 at random moments, 20 times, with the persistent queue: every acknowledged record is delivered', async () => {
    const { sink, daemon } = await setup({ fsync: 'write' });
    await killNineUnderLoad(daemon, sink, [new Feeder(() => (daemon.running ? daemon.ingestPort : 0), 25, 2)], 20);
  }, 600_000);

  it('kill -9 at random moments, 8 times, with redaction in 2 worker threads and 3 senders: every acknowledged record is delivered, redacted', async () => {
    const token = 'sk-live-4f9a1c7e2b8d6f3a5c0e9b7d1f2a4c6e';
    const { sink, daemon } = await setup({ fsync: 'write', processors: `  redaction:\n    workers: 2\n    secret: kill-test\n`, processorNames: ['redaction', 'batch'] });
    let delivered = 0;
    const leaked: string[] = [];
    sink.onLine = (line) => {
      delivered++;
      if (line.includes(token)) leaked.push(line);
    };
    // three senders side by side, as the batch's flush_when_senders_wait counts them
    const feeders = [0, 1, 2].map((k) => new Feeder(() => (daemon.running ? daemon.ingestPort : 0), 25, 2, { first: k * 1_000_000, authorization: `Bearer ${token}` }));
    await killNineUnderLoad(daemon, sink, feeders, 8);
    expect(delivered).toBeGreaterThanOrEqual(8 * 25);
    expect(leaked.slice(0, 1)).toEqual([]);
  }, 600_000);

  it('SIGHUP during a steady stream swaps the pipelines without losing acknowledged records', async () => {
    const { sink, daemon } = await setup();
    sink.mode = { kind: 'slow', ms: 20 };
    await daemon.start();
    const feeder = new Feeder(() => daemon.ingestPort, 20, 2);
    feeder.start(600);
    for (let i = 0; i < 3; i++) {
      await sleep(400);
      daemon.proc!.kill('SIGHUP');
      await waitFor(() => daemon.logs.some((l) => l.msg === 'reloaded' && !l.seen && (l.seen = true)), { timeoutMs: 15_000, what: 'the reload' });
    }
    await feeder.finished();
    sink.mode = { kind: 'ok' };
    await waitFor(() => missingAcked(feeder, sink).length === 0, { timeoutMs: 20_000, what: 'delivery after the reloads' });
    expect(feeder.acked.size).toBe(600);
    expect(daemon.running).toBe(true);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('backend down under load: the sender sees backpressure, nothing is lost', async () => {
    const { sink, daemon } = await setup({
      queueSize: 400,
      block: false,
      processors: '  memory_limiter:\n    check_interval: 100ms\n    limit_mib: 400\n    spike_limit_mib: 100\n',
      processorNames: ['memory_limiter', 'batch'],
    });
    await daemon.start();
    const port = sink.port;
    await sink.stop();
    const feeder = new Feeder(() => daemon.ingestPort, 20, 5);
    feeder.start(1200);
    // The outage lasts until the queue is full and the sender is refused.
    await waitFor(() => feeder.backpressure > 0, { timeoutMs: 40_000, what: 'the sender refused while the backend is down' });
    const m = await daemon.metrics();
    expect(m.sum('rrpipe_queue_size', { component: 'httpsink' })).toBeLessThanOrEqual(400);
    expect(m.sum('rrpipe_records_refused_total', { component: 'httpingest' })).toBeGreaterThan(0);
    // Memory stays under the limiter's soft bound (heap + buffers < 300 MiB).
    expect(m.sum('nodejs_heap_size_used_bytes') + m.sum('nodejs_external_memory_bytes')).toBeLessThan(300 * 1024 * 1024);
    await sink.start(port);
    await feeder.finished();
    await waitFor(() => missingAcked(feeder, sink).length === 0, { timeoutMs: 30_000, what: 'delivery after the outage' });
    expect(feeder.acked.size).toBe(1200);
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_queue_size', { component: 'httpsink' }) === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    const parts = await expectBalanced(daemon);
    expect(parts.dropped + parts.dead_lettered).toBe(0);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('a hanging backend, then a slow one: timeouts fire, retries succeed', async () => {
    const { sink, daemon } = await setup({ timeout: '500ms' });
    await daemon.start();
    sink.mode = { kind: 'hang' };
    const feeder = new Feeder(() => daemon.ingestPort, 20, 10);
    feeder.start(300);
    const timeouts = () => daemon.logs.filter((l) => l.msg === 'export failed, will retry' && String(l.reason).startsWith('timeout after 500ms')).length;
    await waitFor(() => timeouts() > 0, { timeoutMs: 20_000, what: 'a push to the hanging backend timed out' });
    sink.mode = { kind: 'slow', ms: 800 }; // slower than the timeout: still failing
    const whileHanging = timeouts();
    await waitFor(() => timeouts() > whileHanging, { timeoutMs: 20_000, what: 'a push to the too-slow backend timed out' });
    sink.mode = { kind: 'slow', ms: 100 }; // slow but within the timeout
    await feeder.finished();
    await waitFor(() => missingAcked(feeder, sink).length === 0, { timeoutMs: 30_000, what: 'delivery once the backend answers in time' });
    const m = await daemon.metrics();
    expect(m.sum('rrpipe_records_failed_total', { component: 'httpsink', reason: 'timeout after Nms' })).toBeGreaterThan(0);
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_queue_size', { component: 'httpsink' }) === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    await expectBalanced(daemon);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('queue disk cap reached: upstream is refused, nothing is dropped', async () => {
    const { dir, sink, daemon } = await setup({ maxSize: '64KiB', segmentSize: '16KiB', block: false });
    await daemon.start();
    const port = sink.port;
    await sink.stop();
    const feeder = new Feeder(() => daemon.ingestPort, 10, 2);
    feeder.start(600);
    await waitFor(() => feeder.backpressure > 5, { timeoutMs: 20_000, what: 'refusals at the disk cap' });
    expect(queueBytes(dir)).toBeLessThanOrEqual(64 * 1024);
    await sink.start(port);
    await feeder.finished();
    await waitFor(() => missingAcked(feeder, sink).length === 0, { timeoutMs: 30_000, what: 'delivery of everything acknowledged' });
    expect(feeder.acked.size).toBe(600);
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_queue_size', { component: 'httpsink' }) === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    const parts = await expectBalanced(daemon);
    expect(parts.dropped).toBe(0);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('a corrupted segment before start: the daemon starts, reports the loss count, delivers the rest', async () => {
    const { dir, sink, daemon } = await setup({ segmentSize: '8KiB' });
    const port = sink.port;
    await sink.stop();
    await daemon.start();
    const feeder = new Feeder(() => daemon.ingestPort, 10, 0);
    feeder.start(400);
    await feeder.finished();
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const qdir = join(dir, 'queue', 'httpsink');
    const segs = readdirSync(qdir).filter((f) => f.endsWith('.seg')).sort();
    expect(segs.length).toBeGreaterThan(4);
    const victim = join(qdir, segs[2]!);
    const b = readFileSync(victim);
    for (let i = 100; i < 140; i++) b[i] = b[i]! ^ 0xa5;
    writeFileSync(victim, b.subarray(0, Math.floor(b.length * 0.7)));

    await sink.start(port);
    daemon.logs = [];
    await daemon.start();
    const report = daemon.logs.find((l) => l.msg === 'persistent queue: damaged segment skipped');
    expect(report?.file).toBe(victim);
    const lost = report!.lost_records as number;
    expect(lost).toBeGreaterThan(0);
    await waitFor(() => sink.seen.size + lost >= 400, { timeoutMs: 20_000, what: 'delivery of the undamaged records' });
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_queue_size', { component: 'httpsink' }) === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    expect(sink.seen.size + lost).toBe(400);
    const m = await daemon.metrics();
    expect(m.sum('rrpipe_records_dropped_total', { component: 'httpsink', reason: 'corrupt_segment' })).toBe(lost);
    await expectBalanced(daemon);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('permanent per-record errors land in the dead-letter directory with their reasons', async () => {
    const { dir, sink, daemon } = await setup();
    const rejected = new Set(Array.from({ length: 30 }, (_, i) => uuidOf(i * 10)));
    sink.rejectUuid = (u) => rejected.has(u);
    await daemon.start();
    const feeder = new Feeder(() => daemon.ingestPort, 20, 0);
    feeder.start(300);
    await feeder.finished();
    await waitFor(() => missingAcked(feeder, sink, rejected).length === 0, { timeoutMs: 20_000, what: 'delivery of the accepted records' });
    await waitFor(async () => (await daemon.metrics()).sum('rrpipe_records_dead_lettered_total', { component: 'httpsink' }) === 30, { timeoutMs: 10_000, what: '30 dead-lettered' });
    const dl = join(dir, 'dead_letter');
    const lines = readdirSync(dl).flatMap((f) => readFileSync(join(dl, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { reason: string; rrpair: { uuid: string } });
    expect(new Set(lines.map((l) => l.rrpair.uuid))).toEqual(rejected);
    for (const l of lines) expect(l.reason).toMatch(/mapper_parsing_exception/);
    for (const u of rejected) expect(sink.seen.has(u)).toBe(false);
    await expectBalanced(daemon);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('SIGTERM with the in-memory queue and the backend down: at the grace deadline the queue goes to the dead-letter directory', async () => {
    const { dir, sink, daemon } = await setup({ persistent: false });
    await sink.stop();
    await daemon.start();
    const feeder = new Feeder(() => daemon.ingestPort, 20, 0);
    feeder.start(200);
    await feeder.finished();
    const parts = await expectBalanced(daemon);
    expect(parts.queued).toBe(200);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    // It drained for the configured grace period, then stopped: the queue went to the dead-letter directory.
    await waitFor(() => daemon.logs.some((l) => l.msg === 'stopped'), { timeoutMs: 5_000, what: 'the last log line' });
    const msgs = daemon.logs.map((l) => l.msg);
    expect(daemon.logs.find((l) => l.msg === 'shutting down: draining pipelines')?.grace_period_ms).toBe(5000);
    expect(msgs.indexOf('stopped')).toBeGreaterThan(msgs.indexOf('shutting down: draining pipelines'));
    const dl = join(dir, 'dead_letter');
    const lines = readdirSync(dl).flatMap((f) => readFileSync(join(dl, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { reason: string; rrpair: { uuid: string } });
    expect(new Set(lines.map((l) => l.rrpair.uuid)).size).toBe(200);
    expect(lines[0]!.reason).toMatch(/shutdown deadline/);
  }, 120_000);
});

afterAll(() => undefined);
