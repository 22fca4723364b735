import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Service } from '../../src/service/service.js';
import { sinks, testRegistry } from '../support/capture.js';
import { generate } from '../support/samples.js';
import { tmp } from '../support/tmp.js';

/** Input the file receiver cannot deliver is dead-lettered, counted and logged with the file's name, never dropped silently. */

async function run(dir: string, receiverExtra: string) {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }));
  const s = new Service({
    files: ['t.yaml'],
    texts: { 't.yaml': `
receivers:
  file: { include: ["${dir}/in/*"], follow: false${receiverExtra} }
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
    oneShot: true,
  });
  sinks.delete('limits');
  await s.start();
  await s.receiversDone();
  const counts = {
    received: await s.telemetry.total('received', { component: 'file', kind: 'receiver' }),
    accepted: await s.telemetry.total('accepted', { component: 'file', kind: 'receiver' }),
    deadLettered: await s.telemetry.total('dead_lettered', { component: 'file' }),
  };
  await s.shutdown();
  const dlDir = join(dir, 'state', 'dead_letter');
  const dead = readdirSync(dlDir).flatMap((f) => readFileSync(join(dlDir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; source?: string }));
  return { counts, dead, logs, delivered: sinks.get('limits') ?? [] };
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
    expect(r.dead[0]!.reason).toMatch(/longer than max_line_size/);
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
  });
});
