import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One `rrpipe <name>` subcommand. Add a file in commands/ and list it in commands/index.ts. */
export interface CliCommand {
  name: string;
  /** One line for `rrpipe --help`. */
  summary: string;
  /** Full usage text for `rrpipe <name> --help`. */
  usage: string;
  /** Returns the exit code. */
  run(args: string[]): Promise<number>;
}

/** The package root (where configs/ and plugins/ live), from dist/cli or src/cli. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(resolve(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** The embedded default config, used by `rrpipe run` with no -c. */
export function defaultConfigPath(): string {
  return resolve(packageRoot(), 'configs', 'default.yaml');
}

/**
 * `--start -1h`, `--offset -15m`: node's parseArgs reads a value that starts with "-" as another
 * option and refuses it as ambiguous. Join every long option followed by a negative number or
 * duration into `--name=-1h`, for every command (main() does it before a command parses its
 * arguments), so no command can forget it. Short options and `--name=value` are left as they are.
 */
export function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (/^--[^=-][^=]*$/.test(a) && v !== undefined && /^-\d/.test(v)) {
      out.push(`${a}=${v}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
