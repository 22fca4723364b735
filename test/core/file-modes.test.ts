import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { generate } from '../support/samples.js';
import { tmp } from '../support/tmp.js';

/** Every file and folder under dir, with its mode bits. */
function tree(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    out.push({ path: p, dir: e.isDirectory(), mode: statSync(p).mode & 0o777 });
    if (e.isDirectory()) out.push(...tree(p));
  }
  return out;
}

const SECRET = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';

describe('what rrpipe writes is private by default', () => {
  let oldMask = 0;
  beforeAll(() => {
    oldMask = process.umask(0o022); // a typical login umask: files 0644, folders 0755
  });
  afterAll(() => {
    process.umask(oldMask);
  });

  async function runOnce(dir: string, extra = '') {
    mkdirSync(join(dir, 'in'));
    const good = generate(20).map((r) => JSON.stringify(r));
    writeFileSync(join(dir, 'in', 'a.jsonl'), [good[0], `{"msgType":"rrpair","http":{"req":{"headers":{"Authorization":["Bearer ${SECRET}"]}}}`, ...good.slice(1)].join('\n') + '\n');
    const yaml = `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: false${extra} }
connectors:
  local_archive: { directory: ${dir}/out/archive }
exporters:
  file/outbox:
    path: ${dir}/out/outbox/rrpairs.jsonl
    layout: rrpipe
    sending_queue: { enabled: true, storage: file_storage }
  embedded: { path: ${dir}/out/store/embedded.db }
extensions:
  file_storage: { directory: ${dir}/out/queues }
service:
  extensions: [file_storage]
  data_dir: ${dir}/out/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [file/outbox, local_archive] }
    logs/index: { receivers: [local_archive], exporters: [embedded] }
`;
    const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger(), oneShot: true });
    await s.start();
    await s.receiversDone();
    await s.shutdown();
    return tree(join(dir, 'out'));
  }

  it('outbox, archive, embedded store, queues, dead letters and checkpoints: files 0600, folders 0700', async () => {
    const dir = tmp();
    const all = await runOnce(dir);
    const names = all.map((e) => e.path.slice(dir.length + 5)).join('\n');
    // Each kind of output is there, so the check below covers it.
    for (const want of [/^outbox\/rrpairs-.*\.jsonl$/m, /^archive\/.*\.jsonl\.gz$/m, /^store\/embedded\.db$/m, /^queues\//m, /^state\/dead_letter\/file-.*\.jsonl$/m, /^state\/file_receiver\/file\.json$/m]) {
      expect(names).toMatch(want);
    }
    const open = all.filter((e) => (e.dir ? e.mode !== 0o700 : (e.mode & 0o077) !== 0));
    expect(open.map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
  });

  it('a receiver dead-letters only a hash and the reason unless dead_letter.raw is set', async () => {
    const dir = tmp();
    const all = await runOnce(dir);
    const dl = all.find((e) => /dead_letter\/file-/.test(e.path))!.path;
    const text = readFileSync(dl, 'utf8');
    expect(text).not.toContain(SECRET);
    const entry = JSON.parse(text.trim().split('\n')[0]!);
    expect(entry.reason).toMatch(/malformed line/);
    expect(entry.raw).toBeUndefined();
    const line = `{"msgType":"rrpair","http":{"req":{"headers":{"Authorization":["Bearer ${SECRET}"]}}}`;
    expect(entry.sha256).toBe(createHash('sha256').update(line).digest('hex'));
    expect(entry.bytes).toBe(Buffer.byteLength(line));

    const dir2 = tmp();
    const all2 = await runOnce(dir2, ', dead_letter: { raw: true }');
    const text2 = readFileSync(all2.find((e) => /dead_letter\/file-/.test(e.path))!.path, 'utf8');
    expect(JSON.parse(text2.trim().split('\n')[0]!).raw).toBe(line);
  });

  it('a receiver whose pipeline redacts dead-letters the input as that redaction leaves it', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const bad = [
      `{"msgType":"rrpair","http":{"req":{"headers":{"Authorization":["Bearer ${SECRET}"]}}}`,
      `{"msgType":"rrpair","form":"user=a&password=hunter2hunter2","contact":"jane.doe@example.com"`,
    ];
    writeFileSync(join(dir, 'in', 'a.jsonl'), [JSON.stringify(generate(1)[0]), ...bad].join('\n') + '\n');
    const yaml = `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: false }
processors:
  redaction: { secret: test-secret }
exporters:
  file: { path: ${dir}/out/outbox/rrpairs.jsonl }
service:
  data_dir: ${dir}/out/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [redaction], exporters: [file] }
`;
    const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger(), oneShot: true });
    await s.start();
    await s.receiversDone();
    await s.shutdown();
    const dl = tree(join(dir, 'out')).find((e) => /dead_letter\/file-/.test(e.path))!.path;
    const text = readFileSync(dl, 'utf8');
    for (const secret of [SECRET, 'hunter2hunter2', 'jane.doe@example.com']) expect(text).not.toContain(secret);
    const entries = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(entries).toHaveLength(2);
    for (const e of entries) {
      expect(e.redacted).toBe(true);
      expect(e.sha256).toBeUndefined();
      expect(e.reason).toMatch(/malformed line/);
    }
    // What is not sensitive stays readable, so the line can still be diagnosed.
    expect(entries[0].raw).toMatch(/^\{"msgType":"rrpair","http":\{"req":\{"headers":\{"Authorization":\["Bearer REDACTED-BEARER-[0-9a-f]{20}"\]\}\}\}$/);
    expect(entries[1].raw).toContain('user=a&password=REDACTED-');
    expect(entries[1].raw).toMatch(/"contact":"REDACTED-EMAIL-[0-9a-f]{20}"/);
  });

  it('service.umask opens it up when asked', async () => {
    const { parseUmask } = await import('../../src/core/umask.js');
    expect(parseUmask(undefined)).toBe(0o077);
    expect(parseUmask('027')).toBe(0o027);
    expect(() => parseUmask('999')).toThrow(/invalid umask/);
  });
});
