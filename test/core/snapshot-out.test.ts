import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tmp } from '../support/tmp.js';

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const errs: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => void errs.push(a.join(' '));
  try {
    return { code: await main(args), err: errs.join('\n') };
  } finally {
    console.error = orig;
  }
}

describe('rrpipe snapshot output', () => {
  it('accepts --start -2h as rrpipe query does', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'archive'));
    const r = await cli(['snapshot', '--from', join(dir, 'archive'), '--layout', 'native', '--start', '-2h', '--out', join(dir, 'out.jsonl')]);
    expect(r.err).not.toMatch(/ambiguous/);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'out.jsonl'))).toBe(true);
    expect(lstatSync(join(dir, 'out.jsonl')).mode & 0o077).toBe(0);
  });

  it('does not follow a symlink planted at --out', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'archive'));
    writeFileSync(join(dir, 'precious'), 'do not overwrite\n');
    symlinkSync(join(dir, 'precious'), join(dir, 'out.jsonl'));
    const r = await cli(['snapshot', '--from', join(dir, 'archive'), '--layout', 'native', '--start=-2h', '--out', join(dir, 'out.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/symbolic link/);
    expect(readFileSync(join(dir, 'precious'), 'utf8')).toBe('do not overwrite\n');
  });
});
