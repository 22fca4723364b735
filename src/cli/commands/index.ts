import type { CliCommand } from '../command.js';
import { ca } from './ca.js';
import { components } from './components.js';
import { printConfig } from './print-config.js';
import { run } from './run.js';
import { validate } from './validate.js';

/** Every `rrpipe` subcommand, in the order `rrpipe --help` lists them. */
export const commands: CliCommand[] = [run, validate, components, printConfig, ca];
