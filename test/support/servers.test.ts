/**
 * The servers test/support starts die with the process that started them, also when that process
 * is killed by a signal (Ctrl-C, a CI timeout's SIGTERM, vitest stopping its fork), not only on a
 * normal exit. The process that owns them runs servers.ts bundled by esbuild (Node 20 runs no
 * TypeScript), starts a dummy server and is signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmp } from './tmp.js';
import { waitFor } from './wait.js';

let dir: string;
/** Every owner process and dummy server started, killed at the end should a test fail and leave one running. */
const owners: ChildProcess[] = [];
const started: number[] = [];

beforeAll(async () => {
  dir = tmp();
  await build({ entryPoints: [resolve(import.meta.dirname, 'servers.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: join(dir, 'servers.mjs'), logLevel: 'silent' });
});

afterAll(() => {
  for (const c of owners) c.kill('SIGKILL');
  for (const pid of started) {
    if (!alive(pid)) continue;
    try {
      process.kill(-pid, 'SIGKILL'); // a server leads its own group
    } catch {
      process.kill(pid, 'SIGKILL'); // a plain child does not
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `body` (an ES module's text, after an import of servers.mjs twice: as `a` and as `b`, two
 * evaluations of the module as vitest makes), which prints `pids <n> <n> ...` once its servers run;
 * then sends it `end`: a signal, or 'disconnect' (its IPC channel closed, as when its parent dies).
 */
async function runAndEnd(end: NodeJS.Signals | 'disconnect', body: string): Promise<{ child: ChildProcess; ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; out: () => string; pids: number[] }> {
  const script = join(dir, `owner-${end}-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, `import * as a from './servers.mjs?a';\nimport * as b from './servers.mjs?b';\n` +
    `const server = (m) => m.startProcess(process.execPath, ['-e', 'console.log("ready"); setInterval(() => {}, 1000)'], /ready/);\n${body}\nsetInterval(() => {}, 1000);\n`);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe', ...(end === 'disconnect' ? ['ipc' as const] : [])] });
  owners.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
  const line = await waitFor(() => /^pids((?: \d+)+)$/m.exec(out), { what: `pids from the owner process (output: ${out})` });
  const pids = line[1]!.trim().split(' ').map(Number);
  started.push(...pids);
  for (const pid of pids) expect(alive(pid)).toBe(true);
  if (end === 'disconnect') child.disconnect();
  else child.kill(end);
  return { child, ended, out: () => out, pids };
}

/** Whether a pid names a process; a killed orphan stays a zombie (found) until init reaps it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

const gone = (pids: number[]) => waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 15_000, what: `servers ${pids} gone` });

describe('test servers when the process that started them is signalled or loses its parent', () => {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${sig}: the servers are killed and the process still dies of ${sig}, with one handler however often the module is evaluated`, async () => {
      const r = await runAndEnd(sig, `const s = [await server(a), await server(b)];\nconsole.log('pids ' + s.map((c) => c.pid).join(' ') + '\\n' + 'listeners ' + process.listenerCount('${sig}'));`);
      expect((await r.ended).signal).toBe(sig);
      await gone(r.pids);
      expect(r.out()).toContain('listeners 1');
    });
  }

  it("another SIGTERM listener's handling is kept: it decides how the process ends, and the servers are killed", async () => {
    const r = await runAndEnd('SIGTERM', `process.on('SIGTERM', () => { console.log('own handler'); setTimeout(() => process.exit(3), 50); });\nconst s = await server(a);\nconsole.log('pids ' + s.pid);`);
    expect(await r.ended).toEqual({ code: 3, signal: null });
    expect(r.out()).toContain('own handler');
    await gone(r.pids);
  });

  it('SIGTERM: postgres, which pg_ctl leaves outside the process, is shut down too', async () => {
    const r = await runAndEnd('SIGTERM', `const pg = await a.startPostgres();\nconsole.log('dir ' + pg.dir + '\\npids ' + pg.postmaster);`);
    expect((await r.ended).signal).toBe('SIGTERM');
    await gone(r.pids);
    rmSync(/^dir (.+)$/m.exec(r.out())![1]!, { recursive: true, force: true });
  });

  it('a child that is not a server (rrpipe under test) dies with the process too: SIGTERM and parent gone', async () => {
    const child = `const { spawn } = await import('node:child_process');\nconst c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });\na.dieWithTestProcess(c);\nconsole.log('pids ' + c.pid);`;
    const term = await runAndEnd('SIGTERM', child);
    expect((await term.ended).signal).toBe('SIGTERM');
    await gone(term.pids);
    const orphaned = await runAndEnd('disconnect', child);
    await gone(orphaned.pids);
  });

  it('parent gone (its IPC channel closed, as for a vitest fork whose vitest was killed): the servers are killed', async () => {
    const r = await runAndEnd('disconnect', `const s = await server(a);\nconsole.log('pids ' + s.pid);`);
    await gone(r.pids);
    expect(r.child.exitCode).toBe(null); // the process itself goes on, as an orphaned vitest fork does
  });
});
