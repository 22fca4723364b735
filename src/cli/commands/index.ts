import type { CliCommand } from '../command.js';
import { adxSchema } from './adx-schema.js';
import { ca } from './ca.js';
import { components } from './components.js';
import { printConfig } from './print-config.js';
import { query } from './query.js';
import { render } from './render.js';
import { run } from './run.js';
import { validate } from './validate.js';
import { get } from './get.js';
import { lifecycle } from './lifecycle.js';
import { rehydrate } from './rehydrate.js';
import { snapshot } from './snapshot.js';

/** Every `rrpipe` subcommand, in the order `rrpipe --help` lists them. */
export const commands: CliCommand[] = [run, validate, components, printConfig, query, rehydrate, snapshot, get, lifecycle, render, adxSchema, ca];
