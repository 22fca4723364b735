import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { bool, duration, exporterHelperProperties, int, list, obj, path, secret, str } from '../../src/config/fragments.js';
import { configRows, configTable, replaceBlock } from '../../src/config/reference.js';
import { runCli, tmp } from '../support/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

function docs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repo, 'scripts/docs.mjs'), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A copy of every README the generator owns, to tamper with. */
function readmeCopy(): string {
  const dir = tmp();
  for (const f of ['README.md', ...fg.sync('src/*/*/README.md', { cwd: repo })]) {
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    cpSync(join(repo, f), join(dir, f));
  }
  return dir;
}

describe('generated reference (npm run docs)', () => {
  it('one row per key: nested keys, list items, required keys, defaults, units and secret/path marks', () => {
    const schema = obj({
      endpoint: str(undefined, 'Where to send.'),
      token: secret('The token.'),
      cert_file: path(undefined, 'A file.'),
      wait: duration('5s', 'How long.'),
      block: obj({ on: bool(true, 'Turn it on.'), rules: list(obj({ field: str(undefined, 'The field.'), n: int(3, 'A number.', { minimum: 1 }) }, { required: ['field'] }), [], 'Rules.') }, { description: 'A block.' }),
    }, { required: ['endpoint'] });
    const rows = configRows(schema);
    expect(rows.map((r) => r.key)).toEqual(['endpoint', 'token', 'cert_file', 'wait', 'block', 'block.on', 'block.rules', 'block.rules[].field', 'block.rules[].n']);
    const by = Object.fromEntries(rows.map((r) => [r.key, r]));
    expect(by['endpoint']!.default).toBe('required');
    expect(by['token']!.type).toBe('string (secret)');
    expect(by['token']!.description).toMatch(/masked/);
    expect(by['cert_file']!.type).toBe('string (path)');
    expect(by['wait']).toMatchObject({ type: 'duration', default: '`5s`' });
    expect(by['block.rules']).toMatchObject({ type: 'object[]', default: '`[]`' });
    expect(by['block.rules[].field']!.default).toBe('required');
    expect(by['block.rules[].n']).toMatchObject({ type: 'integer', default: '`3`', description: 'A number. (≥ 1)' });
  });

  it('an exporter table lists the exporter helper settings with their defaults', () => {
    const table = configTable(obj({ ...exporterHelperProperties() }));
    expect(table).toContain('| `retry_on_failure.max_elapsed_time` | duration | `5m` |');
    expect(table).toContain('| `sending_queue.sizer` | `requests` \\| `items` \\| `bytes` | `requests` |');
  });

  it('replaces only what is between the markers, and says when they are missing', () => {
    const text = 'intro\n<!-- generated:config start -->\nold\n<!-- generated:config end -->\nafter\n';
    expect(replaceBlock(text, 'config', 'new')).toBe('intro\n<!-- generated:config start -->\nnew\n<!-- generated:config end -->\nafter\n');
    expect(replaceBlock('no markers', 'config', 'new')).toBeUndefined();
  });

  it('the READMEs in the repository are what the generator writes', async () => {
    const r = await docs(['--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('--check fails naming each README that drifted from its schema or factory, and the generator repairs it', async () => {
    const dir = readmeCopy();
    const batch = join(dir, 'src/processors/batch/README.md');
    writeFileSync(batch, readFileSync(batch, 'utf8').replace('`8192`', '`1000`'));
    const top = join(dir, 'README.md');
    writeFileSync(top, readFileSync(top, 'utf8').replace('| processor | [batch](src/processors/batch) | stable |', '| processor | [batch](src/processors/batch) | alpha |'));
    const bad = await docs(['--check', '--root', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').sort()).toEqual([
      'README.md: out of date with the component\'s schema or factory (run npm run docs)',
      'src/processors/batch/README.md: out of date with the component\'s schema or factory (run npm run docs)',
    ]);
    expect((await docs(['--root', dir])).code).toBe(0);
    expect(readFileSync(batch, 'utf8')).toContain('| `send_batch_size` | integer | `8192` |');
    expect((await docs(['--check', '--root', dir])).code).toBe(0);
  });

  it('a README without markers gets its table in place of the hand-written one', async () => {
    const dir = readmeCopy();
    const f = join(dir, 'src/processors/batch/README.md');
    const hand = readFileSync(f, 'utf8')
      .replace(/<!-- generated:stability start -->\n.*\n<!-- generated:stability end -->\n\n/, '')
      .replace(/<!-- generated:config start -->\n([\s\S]*?)<!-- generated:config end -->\n/, '| key | type | default | description |\n|---|---|---|---|\n| `timeout` | duration | `1s` | hand-written |\n');
    writeFileSync(f, hand);
    expect((await docs(['--root', dir])).code).toBe(0);
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('hand-written');
    expect(text.indexOf('<!-- generated:stability start -->')).toBeLessThan(text.indexOf('Groups records'));
    expect(text).toMatch(/<!-- generated:config start -->\n\| key \| type \| default \| description \|[\s\S]*`send_batch_size`[\s\S]*<!-- generated:config end -->\n\n## Example/);
  });
});

describe('rrpipe components', () => {
  it('prints each factory\'s own stability', async () => {
    const factories = (await builtinRegistry()).list();
    const r = await runCli(['components', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const listed = JSON.parse(r.stdout) as { kind: string; type: string; stability: string }[];
    expect(listed.map((c) => `${c.kind}/${c.type}=${c.stability}`).sort()).toEqual(factories.map((f) => `${f.kind}/${f.type}=${f.stability}`).sort());
    const table = await runCli(['components']);
    for (const f of factories) {
      expect(table.stdout.split('\n').some((row) => new RegExp(`^${f.kind}\\s+${f.type}\\b.*\\s${f.stability}\\s`).test(row))).toBe(true);
    }
  });
});
