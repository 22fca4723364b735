import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/load.js';
import { builtinRegistry } from '../../components.js';
import { defaultConfigPath, type CliCommand } from '../command.js';

export const validate: CliCommand = {
  name: 'validate',
  summary: 'check a config; print every error with file:line:column and exit 1, or exit 0',
  usage: 'rrpipe validate -c FILE [-c FILE]...',
  async run(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', multiple: true } } });
    const files = values.config?.length ? values.config : [defaultConfigPath()];
    try {
      const cfg = await loadConfig(files, { registry: await builtinRegistry({ lazy: true }) });
      for (const w of cfg.warnings) console.error(`warning: ${w}`);
      console.log(`${files.join(', ')}: valid (${cfg.pipelines.size} pipeline${cfg.pipelines.size === 1 ? '' : 's'})`);
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        console.error(`${err.issues.length} error${err.issues.length === 1 ? '' : 's'}`);
        return 1;
      }
      throw err;
    }
  },
};
