import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { generate } from '../support/samples.js';
import { tmp } from '../support/tmp.js';

/*
 * A JSON line nested 100,000 levels parses, but serializing it overflows the stack (RangeError).
 * That used to be retried forever: 0 of the later good records were delivered, and the
 * checkpoint kept the receiver stuck after a restart.
 */
const DEPTH = 100_000;
const nested = `{"msgType":"rrpair","uuid":"cG9pc29uLXJlY29yZC0wMDAx","ts":"2025-03-18T00:00:00.000000000Z","service":"poison","http":{"req":{"body":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}}}`;

const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
});

function outLines(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

async function runOnce(dir: string, processors = '[]') {
  // "fanout": a second pipeline that redacts shares the receiver: its records are deep-copied.
  const second = processors === 'fanout' ? `\n    logs/b: { receivers: [file], processors: [redaction], exporters: [file/b] }` : '';
  if (processors === 'fanout') processors = '[]';
  const yaml = `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: false }
processors:
  batch: { timeout: 50ms }
  redaction: { secret: s }
exporters:
  file: { layout: rrpipe, path: "${dir}/out/rrpairs.jsonl" }
  file/b: { layout: rrpipe, path: "${dir}/out-b/rrpairs.jsonl" }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: ${processors}, exporters: [file] }${second}
`;
  const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger(), oneShot: true });
  running.push(s);
  await s.start();
  await s.receiversDone();
  const counts = {
    deadLettered: await s.telemetry.total('dead_lettered'),
    received: await s.telemetry.total('received', { component: 'file', kind: 'receiver' }),
  };
  await s.shutdown();
  running.splice(running.indexOf(s), 1);
  return counts;
}

describe('a poison record is dead-lettered and the rest flows on', () => {
  for (const [name, processors] of [['no processors', '[]'], ['batch', '[batch]'], ['two pipelines, one redacting', 'fanout']] as const) {
    it(`the 100,000-level nested line, then 13 good records (${name})`, async () => {
      const dir = tmp();
      mkdirSync(join(dir, 'in'));
      const good = generate(13).map((r) => JSON.stringify(r));
      writeFileSync(join(dir, 'in', 'a.jsonl'), [nested, ...good.slice(0, 8)].join('\n') + '\n');
      writeFileSync(join(dir, 'in', 'b.jsonl'), good.slice(8).join('\n') + '\n');
      const first = await runOnce(dir, processors);
      const delivered = outLines(join(dir, 'out')).map((l) => (JSON.parse(l) as { uuid: string }).uuid);
      expect(delivered.sort()).toEqual(generate(13).map((r) => r.uuid).sort());
      expect(first.deadLettered).toBe(1);
      if (processors === 'fanout') expect(outLines(join(dir, 'out-b'))).toHaveLength(13);
      const dl = readdirSync(join(dir, 'state', 'dead_letter'));
      const entries = dl.flatMap((f) => readFileSync(join(dir, 'state', 'dead_letter', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string }));
      expect(entries.length).toBe(first.deadLettered);
      for (const e of entries) expect(e.reason).toMatch(/call stack|nested|serializ/i);
      // The checkpoint is past the poison line: a restart delivers nothing again and does not stick.
      const second = await runOnce(dir, processors);
      expect(second.deadLettered).toBe(0);
      expect(outLines(join(dir, 'out'))).toHaveLength(13);
    }, 60_000);
  }
});
