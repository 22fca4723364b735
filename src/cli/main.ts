import { joinNegativeValues, UsageError } from './command.js';
import { loadCommand, loadCommands } from './commands/index.js';
import { applyUmask } from '../core/umask.js';
import { holdYoungGeneration } from './young-generation.js';

async function help(): Promise<string> {
  const commands = await loadCommands();
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'rrpipe: a collector for Speedscale RRPairs (capture, clean, index, archive, rehydrate)',
    '',
    'usage: rrpipe <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'rrpipe <command> --help shows a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    console.log('rrpipe 0.1.0');
    return 0;
  }
  if (name === 'run') holdYoungGeneration(); // released once the service runs (young-generation.ts)
  const cmd = await loadCommand(name);
  if (!cmd) {
    console.error(`rrpipe: unknown command "${name}"\n\n${await help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  applyUmask(undefined); // outputs (--out, snapshots, stores) are private; `run` applies service.umask
  try {
    return await cmd.run(joinNegativeValues(rest));
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`rrpipe ${name}: ${(err as Error).message}\n\n${cmd.usage}`);
      return 2;
    }
    throw err;
  }
}
