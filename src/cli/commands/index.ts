import type { CliCommand } from '../command.js';

/**
 * Every `rrpipe` subcommand by name, in the order `rrpipe --help` lists them. Each module is
 * imported only when its command runs (or for the help listing): `rrpipe run` then does not load
 * the query, snapshot and long-term archive code it never calls (idle RSS, issue 13).
 */
const modules: [string, () => Promise<CliCommand>][] = [
  ['run', async () => (await import('./run.js')).run],
  ['validate', async () => (await import('./validate.js')).validate],
  ['components', async () => (await import('./components.js')).components],
  ['print-config', async () => (await import('./print-config.js')).printConfig],
  ['query', async () => (await import('./query.js')).query],
  ['rehydrate', async () => (await import('./rehydrate.js')).rehydrate],
  ['snapshot', async () => (await import('./snapshot.js')).snapshot],
  ['get', async () => (await import('./get.js')).get],
  ['lifecycle', async () => (await import('./lifecycle.js')).lifecycle],
  ['render', async () => (await import('./render.js')).render],
  ['adx-schema', async () => (await import('./adx-schema.js')).adxSchema],
  ['ca', async () => (await import('./ca.js')).ca],
];

/** The command called `name`, loaded; undefined when there is none. */
export async function loadCommand(name: string): Promise<CliCommand | undefined> {
  return modules.find(([n]) => n === name)?.[1]();
}

/** Every command, loaded (for `rrpipe --help`). */
export function loadCommands(): Promise<CliCommand[]> {
  return Promise.all(modules.map(([, load]) => load()));
}
