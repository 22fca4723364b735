import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dieWithTestProcess } from './servers.js';
import { waitFor } from './wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/rrpipe.js');

/**
 * Tests that run rrpipe as a child process run dist/, which `npm test` builds before vitest starts.
 * They do not build it themselves: tsc rewriting dist/ while other test files run it breaks them.
 * Throws when dist/ is missing or older than a file in src/.
 */
export function requireBuild(): void {
  const built = join(ROOT, 'dist/index.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  const at = statSync(built).mtimeMs;
  const newer = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).find((f) => f.endsWith('.ts') && statSync(join(ROOT, 'src', f)).mtimeMs > at);
  if (newer) throw new Error(`dist/ is older than src/${newer}: run \`npm run build\` first (npm test does)`);
}

let checkedBuild = false;

/** rrpipe as a child process, with its log lines collected. Needs `npm run build` first (npm test does it). */
export class RrpipeProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[] = [];
  stdout = '';
  stderrText = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    checkedBuild ||= (requireBuild(), true);
    this.child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    dieWithTestProcess(this.child);
    let buf = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      this.stderrText += d.toString();
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.logs.push(JSON.parse(line));
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    this.child.stdout!.on('data', (d: string) => (this.stdout += d));
    // 'close', not 'exit': 'exit' can fire while the last chunks of stdout are still unread.
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  waitLog(msg: string | RegExp, timeoutMs = 60_000) {
    return waitFor(() => this.logs.find((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))), { timeoutMs, what: `log "${msg}"` });
  }

  signal(sig: NodeJS.Signals) {
    this.child.kill(sig);
  }
}

/** Run the CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new RrpipeProcess(args, env);
  return p.exited.then((code) => ({ code, stdout: p.stdout, stderr: p.stderrText }));
}
