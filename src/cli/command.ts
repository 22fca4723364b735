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

export class UsageError extends Error {
  override name = 'UsageError';
}
