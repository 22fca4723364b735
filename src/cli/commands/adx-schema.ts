import { parseDuration } from '../../config/units.js';
import { schemaCommands } from '../../exporters/azuredataexplorer/schema.js';
import type { CliCommand } from '../command.js';

/** Prints the Kusto management commands the azuredataexplorer exporter runs, for an admin to run. */
export const adxSchema: CliCommand = {
  name: 'adx-schema',
  summary: 'print the Azure Data Explorer table, mapping and retention commands',
  usage: 'rrpipe adx-schema [--table RRPairs] [--mapping rrpair_mapping] [--retention 14d] [--streaming]',
  async run(args) {
    const opt = (name: string, def: string) => {
      const joined = args.find((a) => a.startsWith(`--${name}=`)); // as main() passes `--retention -1d`
      if (joined) return joined.slice(name.length + 3);
      const i = args.indexOf(`--${name}`);
      return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
    };
    let retentionMs: number;
    try {
      retentionMs = parseDuration(opt('retention', '14d'));
    } catch (err) {
      console.error(`adx-schema: --retention: ${(err as Error).message}`);
      return 2;
    }
    const cmds = schemaCommands({ table: opt('table', 'RRPairs'), mapping: opt('mapping', 'rrpair_mapping'), retentionMs, streaming: args.includes('--streaming') });
    console.log(cmds.join('\n\n'));
    return 0;
  },
};
