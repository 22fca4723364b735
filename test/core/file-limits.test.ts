import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { MAX_DEPTH } from '../../src/rrpair/otlp.js';
import { Service } from '../../src/service/service.js';
import { sinks, testRegistry } from '../support/capture.js';
import { generate } from '../support/samples.js';
import { tmp } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

/** Input the file receiver cannot deliver is dead-lettered, counted and logged with the file's name, never dropped silently. */

type Log = Record<string, unknown> & { msg: string };

/** A service reading `<dir>/in/*` into the capture exporter `limits`; its logs go to `logs`. */
async function service(dir: string, receiverExtra: string, logs: Log[], follow = false) {
  const logger = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }));
  sinks.delete('limits');
  return new Service({
    files: ['t.yaml'],
    texts: { 't.yaml': `
receivers:
  file: { include: ["${dir}/in/*"], follow: ${follow}${receiverExtra} }
exporters:
  capture: { label: limits }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
` },
    registry: await testRegistry(),
    logger,
    oneShot: !follow,
  });
}

async function run(dir: string, receiverExtra: string) {
  const logs: Log[] = [];
  const s = await service(dir, receiverExtra, logs);
  await s.start();
  await s.receiversDone();
  const counts = {
    received: await s.telemetry.total('received', { component: 'file', kind: 'receiver' }),
    accepted: await s.telemetry.total('accepted', { component: 'file', kind: 'receiver' }),
    deadLettered: await s.telemetry.total('dead_lettered', { component: 'file' }),
  };
  await s.shutdown();
  const dlDir = join(dir, 'state', 'dead_letter');
  const dlText = readdirSync(dlDir).map((f) => readFileSync(join(dlDir, f), 'utf8')).join('');
  const dead = dlText.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; source?: string });
  return { counts, dead, dlText, logs, delivered: sinks.get('limits') ?? [] };
}

describe('file receiver: no silent loss', () => {
  it('an unterminated over-long last line in a file read once is dead-lettered, counted and logged', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const good = generate(3).map((r) => JSON.stringify(r));
    const max = Math.max(...good.map((l) => l.length)) + 100;
    writeFileSync(join(dir, 'in', 'a.jsonl'), good.join('\n') + '\n' + '{"msgType":"rrpair","x":"' + 'x'.repeat(3 * max)); // no newline
    const r = await run(dir, `, max_line_size: ${max}`);
    expect(r.delivered).toHaveLength(3);
    expect(r.counts.deadLettered).toBe(1);
    expect(r.dead[0]!.reason).toBe(`line longer than max_line_size (${max} bytes): ${'{"msgType":"rrpair","x":"'.length + 3 * max} bytes, of which the entry keeps the first 1024`);
    expect(r.dead[0]!.source).toBe(`${dir}/in/a.jsonl:4`);
    expect(r.logs.some((l) => l.file === join(dir, 'in', 'a.jsonl') && /refused a line/.test(String(l.msg)))).toBe(true);
    expect(r.counts.received).toBe(r.counts.accepted + r.counts.deadLettered);
  });

  it('a gzip file that inflates beyond max_decompressed_size is cut there: what came before is delivered, the rest dead-lettered and logged', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const good = generate(5).map((r) => JSON.stringify(r));
    // 5 good lines, then 24 MiB of zeros (a bomb shape: ~24 KiB compressed).
    writeFileSync(join(dir, 'in', 'bomb.jsonl.gz'), gzipSync(Buffer.concat([Buffer.from(good.join('\n') + '\n'), Buffer.alloc(24 << 20)])));
    const r = await run(dir, ', max_decompressed_size: 8MiB');
    expect(r.delivered.map((x) => x.rrpair.uuid)).toEqual(generate(5).map((x) => x.uuid));
    expect(r.dead.some((d) => /decompression cap/.test(d.reason) && d.source === join(dir, 'in', 'bomb.jsonl.gz'))).toBe(true);
    expect(r.logs.some((l) => l.file === join(dir, 'in', 'bomb.jsonl.gz') && /decompression cap/.test(String(l.msg)))).toBe(true);
    expect(r.counts.received).toBe(r.counts.accepted + r.counts.deadLettered);
  });

  it('a gzip file of zeros under the cap is one over-long unterminated line: dead-lettered, not dropped', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'zeros.jsonl.gz'), gzipSync(Buffer.alloc(4 << 20)));
    const r = await run(dir, ', max_line_size: 1MiB');
    expect(r.delivered).toHaveLength(0);
    expect(r.counts.deadLettered).toBe(1);
    expect(r.dead[0]!.source).toBe(`${join(dir, 'in', 'zeros.jsonl.gz')}:1`);
    expect(r.dead[0]!.reason).toMatch(/: 4194304 bytes, of which the entry keeps the first \d+$/);
  });

  it('an over-long line with its newline, longer than a read chunk, is refused with its whole length; the lines around it flow', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const good = generate(2).map((r) => JSON.stringify(r));
    const long = '{"msgType":"rrpair","x":"' + 'y'.repeat(300_000) + '"}';
    writeFileSync(join(dir, 'in', 'a.jsonl'), [good[0], long, good[1]].join('\n') + '\n');
    const r = await run(dir, ', max_line_size: 100KiB');
    expect(r.delivered.map((x) => x.rrpair.uuid)).toEqual(generate(2).map((x) => x.uuid));
    expect(r.dead.map((d) => [d.reason, d.source])).toEqual([[`line longer than max_line_size (102400 bytes): ${long.length} bytes, of which the entry keeps the first 1024`, `${dir}/in/a.jsonl:2`]]);
  });

  // Bad input from a probe: each kind refused with a reason that quotes nothing of the line.
  const DEPTH = 100_000;

  it('a JSON object that is not an RRPair, a line nested 100,000 deep, a credential in broken JSON, invalid UTF-8: each refused, the good lines delivered', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const good = generate(5).map((r) => JSON.stringify(r));
    const notRRPair = '{"hello":"not an rrpair","password":"FILEPWD1"}';
    const deep = `{"msgType":"rrpair","ts":"2025-03-18T00:00:00Z","http":{"req":{"body":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}}}`;
    const leak = '{"msgType":"rrpair","api_key": LOGLEAK_sk_live_0123456789}';
    // A whole RRPair but for one byte that is not UTF-8 (0xff) in a string.
    const badUtf8 = Buffer.from(good[0]!.replace('"service":"', '"service":"\u0001'), 'utf8');
    badUtf8[badUtf8.indexOf(1)] = 0xff;
    const file = Buffer.concat([
      Buffer.from([good[0], notRRPair, good[1], deep, good[2], leak, good[3]].join('\n') + '\n'),
      badUtf8,
      Buffer.from('\n' + good[4] + '\n'),
    ]);
    writeFileSync(join(dir, 'in', 'a.jsonl'), file);
    const r = await run(dir, '');

    // Soft: each refusal is reported on its own when it fails.
    expect.soft(r.delivered.map((x) => x.rrpair.uuid)).toEqual(generate(5).map((x) => x.uuid));
    expect.soft(r.counts.deadLettered).toBe(4);
    expect.soft(r.counts.received).toBe(r.counts.accepted + r.counts.deadLettered);
    const bySource = Object.fromEntries(r.dead.map((d) => [d.source, d.reason]));
    const src = (n: number) => `${join(dir, 'in', 'a.jsonl')}:${n}`;
    expect.soft(bySource[src(2)]).toMatch(/^malformed line: not an RRPair/);
    expect.soft(bySource[src(4)]).toBe(`malformed line: value nested deeper than ${MAX_DEPTH} levels`);
    expect.soft(bySource[src(6)]).toBe(`malformed line: invalid JSON at byte ${leak.indexOf('LOGLEAK')}: unexpected character`);
    expect.soft(bySource[src(8)]).toBe('malformed line: not valid UTF-8');
    // Neither the logs nor the dead-letter file (a hash only: no pipeline redacts) hold the credentials.
    for (const secret of ['LOGLEAK', 'FILEPWD1']) {
      expect.soft(r.dlText).not.toContain(secret);
      expect.soft(JSON.stringify(r.logs)).not.toContain(secret);
    }
    const refused = r.logs.filter((l) => l.msg === 'refused a line');
    expect.soft(refused.map((l) => l.line)).toEqual([2, 4, 6, 8]);
  }, 60_000);

  it('past 20 refused lines in a minute, their number is logged when the minute ends and the next minute logs lines again; an incomplete last line unchanged for a minute is logged and counted once', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const file = join(dir, 'in', 'a.jsonl');
    const logs: Log[] = [];
    const bad = (from: number, n: number) => Array.from({ length: n }, (_, i) => `not json ${from + i}`).join('\n') + '\n';
    writeFileSync(file, JSON.stringify(generate(1)[0]) + '\n' + bad(0, 25));
    const s = await service(dir, ', poll_interval: 20ms', logs, true);
    const dead = () => s.telemetry.total('dead_lettered', { component: 'file' });
    const held = async () => (await s.telemetry.registry.getSingleMetric('rrpipe_file_incomplete_lines_held_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
    const refusedLogged = () => logs.filter((l) => l.msg === 'refused a line').length;
    try {
      await s.start();
      await waitFor(async () => (await dead()) === 25, { what: '25 refused lines' });
      expect(sinks.get('limits')).toHaveLength(1);
      expect(refusedLogged()).toBe(20);
      expect(logs.filter((l) => /^more refused lines/.test(l.msg))).toHaveLength(1);

      // A minute later: how many went unlogged, then new refused lines are logged again.
      vi.setSystemTime(Date.now() + 61_000);
      appendFileSync(file, bad(25, 2) + 'half a line, its writer gone');
      await waitFor(async () => (await dead()) === 27, { what: '27 refused lines' });
      await waitFor(() => refusedLogged() === 22, { what: 'the 2 new refused lines logged' });
      expect(logs.filter((l) => l.refused_not_logged !== undefined).map((l) => l.refused_not_logged)).toEqual([5]);

      // The unterminated last line, unchanged for a minute: logged and counted once, still held.
      expect(await held()).toBe(0);
      vi.setSystemTime(Date.now() + 61_000);
      await waitFor(async () => (await held()) === 1, { what: 'the held line counted' });
      const report = logs.filter((l) => /incomplete line/.test(l.msg));
      expect(report).toHaveLength(1);
      expect(report[0]).toMatchObject({ line: 29, bytes: 'half a line, its writer gone'.length });
      // Its newline comes: it is read (here, refused) like any line.
      appendFileSync(file, '\n');
      await waitFor(async () => (await dead()) === 28, { what: 'the completed line refused' });
      expect(await held()).toBe(1);
    } finally {
      await s.shutdown();
      vi.useRealTimers();
    }
  }, 60_000);
});
