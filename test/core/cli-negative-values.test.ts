import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmp } from '../support/index.js';

// Every command option whose value may start with "-" (a relative time or a negative offset),
// in each form the docs use: `--start -2h` (config headers, the rehydrate Job's args), `--start=-2h`,
// and with -c or --config before it. node's parseArgs refuses `--start -2h` as ambiguous unless
// the CLI joins it (main() does, for every command).

const HOUR = 3_600_000;
const now = Date.now();
/** Inside the window -2h..-1h: these are the records each command must find. */
const inside = [90, 80, 70].map((min, i) => rr(`in-${i}`, now - min * 60_000));
/** Outside it: before -2h, and after -1h. */
const outside = [rr('before', now - 3 * HOUR), rr('after', now - 30 * 60_000)];

function rr(uuid: string, ms: number) {
  return { msgType: 'rrpair', uuid, ts: new Date(ms).toISOString(), l7protocol: 'http', direction: 'IN', service: 'orders', http: { req: { method: 'GET', uri: `/x/${uuid}` }, res: { statusCode: 200 } } };
}

let dir: string;
let archive: string;
let cfg: string;

beforeAll(async () => {
  dir = tmp('rrpipe-negative-');
  archive = join(dir, 'archive');
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in/a.jsonl'), [...inside, ...outside].map((r) => JSON.stringify(r)).join('\n') + '\n');
  // One run fills an embedded store (for query) and a local archive (for snapshot and rehydrate).
  cfg = join(dir, 'store.yaml');
  writeFileSync(cfg, `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: false }
exporters:
  embedded: { path: ${dir}/embedded.db, ttl: 0 }
  local_archive: { directory: ${archive} }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [embedded, local_archive] }
`);
  const r = await runCli(['run', '--once', '-c', cfg]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

const uuidsOfLines = (text: string) => text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { uuid?: string; id?: string }).uuid ?? (JSON.parse(l) as { id: string }).id).sort();
const want = inside.map((r) => r.uuid).sort();
const notAmbiguous = (stderr: string) => expect(stderr).not.toMatch(/ambiguous|ERR_PARSE_ARGS|does not take/);

describe('negative option values (-2h, -15m) on every command that takes one', () => {
  it.each([
    ['--start -2h --end -1h', ['--start', '-2h', '--end', '-1h']],
    ['--start=-2h --end=-1h', ['--start=-2h', '--end=-1h']],
  ])('query %s', async (_, window) => {
    const r = await runCli(['query', '-c', cfg, '--store', 'embedded', ...window, '--output', 'raw']);
    notAmbiguous(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(uuidsOfLines(r.stdout)).toEqual(want);
  });

  it.each([
    ['--start -2h --end -1h', ['--start', '-2h', '--end', '-1h']],
    ['--start=-2h --end=-1h', ['--start=-2h', '--end=-1h']],
  ])('snapshot %s', async (_, window) => {
    const out = join(tmp('rrpipe-negative-snap-'), 'raw.jsonl');
    const r = await runCli(['snapshot', '--from', archive, ...window, '--out', out]);
    notAmbiguous(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(uuidsOfLines(readFileSync(out, 'utf8'))).toEqual(want);
  });

  it.each([
    // configs/replay-snapshot.yaml's header, and deploy/kubernetes/overlays/rehydrate-job/job.yaml's args
    ['-c FILE --start -2h --end -1h', (f: string) => ['-c', f, '--start', '-2h', '--end', '-1h']],
    ['--config FILE --start -2h --end -1h', (f: string) => ['--config', f, '--start', '-2h', '--end', '-1h']],
    ['--config=FILE --start=-2h --end=-1h', (f: string) => [`--config=${f}`, '--start=-2h', '--end=-1h']],
  ])('rehydrate %s', async (_, args) => {
    const d = tmp('rrpipe-negative-rehydrate-');
    const f = join(d, 'r.yaml');
    writeFileSync(f, `
receivers:
  rehydrate: { from: ${archive}, start: '2000-01-01T00:00:00Z' }
exporters:
  file: { path: ${d}/out/raw.jsonl, layout: rrpipe, flush_interval: 0 }
service:
  data_dir: ${d}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [rehydrate], exporters: [file] }
`);
    const r = await runCli(['rehydrate', ...args(f)]);
    notAmbiguous(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    const lines = readdirSync(join(d, 'out')).filter((n) => !n.endsWith('.partial')).map((n) => readFileSync(join(d, 'out', n), 'utf8')).join('');
    expect(uuidsOfLines(lines)).toEqual(want);
  });

  it.each([
    ['-i FILE --offset -15m', (f: string) => ['-i', f, '--offset', '-15m']],
    ['-i FILE --offset=-15m', (f: string) => ['-i', f, '--offset=-15m']],
    ['FILE --offset -15m', (f: string) => [f, '--offset', '-15m']],
  ])('render %s', async (_, args) => {
    const f = join(tmp('rrpipe-negative-render-'), 'x.jsonl');
    writeFileSync(f, JSON.stringify(rr('r', Date.parse('2025-03-18T00:41:46.221941Z'))) + '\n');
    const r = await runCli(['render', ...args(f)]);
    notAmbiguous(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rendered 1 RRPair \(offset -900000 ms\)/);
  });
});

describe('joinNegativeValues', () => {
  it('joins a long option and a negative value, leaves everything else', async () => {
    const { joinNegativeValues } = await import('../../src/cli/command.js');
    expect(joinNegativeValues(['-c', 'f.yaml', '--start', '-2h', '--end', '-1.5h', '--offset', '-15m', '--limit', '5'])).toEqual(['-c', 'f.yaml', '--start=-2h', '--end=-1.5h', '--offset=-15m', '--limit', '5']);
    expect(joinNegativeValues(['--start=-2h', '--json', '-o', '-', '--store', 'embedded'])).toEqual(['--start=-2h', '--json', '-o', '-', '--store', 'embedded']);
    expect(joinNegativeValues(['--', '--start', '-2h'])).toEqual(['--', '--start', '-2h']);
  });
});
