import { parseArgs } from 'node:util';
import { ConfigError } from '../../config/load.js';
import { builtinRegistry } from '../../components.js';
import { scrub } from '../../core/logger.js';
import { Service } from '../../service/service.js';
import { defaultConfigPath, type CliCommand } from '../command.js';
import { releaseYoungGeneration } from '../young-generation.js';

export const run: CliCommand = {
  name: 'run',
  summary: 'run the pipelines of a config (the embedded default when no -c is given)',
  usage: `rrpipe run [-c FILE]... [--once]

  -c, --config FILE   config file; repeat to merge several (later files win)
  --once              exit once every finite receiver (a file read once, a rehydration) is done

Signals: SIGTERM/SIGINT drain every queue within service.grace_period and exit 0 (also when
--once is already draining); a second SIGTERM/SIGINT exits 1 at once, without draining.
SIGHUP re-reads the config (an invalid one is refused and the running one kept).`,
  async run(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', multiple: true }, once: { type: 'boolean' } } });
    const files = values.config?.length ? values.config : [defaultConfigPath()];
    const service = new Service({ files, registry: await builtinRegistry({ lazy: true }), oneShot: values.once ?? false });
    try {
      await service.start();
    } catch (err) {
      releaseYoungGeneration();
      if (err instanceof ConfigError) {
        console.error(err.message);
        return 1;
      }
      console.error(scrub(`rrpipe: failed to start: ${(err as Error).message}`, [...(service.config?.secrets ?? [])].filter((x) => x.length >= 4)));
      await service.shutdown().catch(() => undefined);
      return 1;
    }
    releaseYoungGeneration();
    return new Promise<number>((resolveExit) => {
      // One drain, whatever starts it: the first signal, or (--once) the finite receivers being
      // done. Receivers also finish because a signal's drain stopped them; that is not a reason to
      // skip the drain. Only a second signal from the operator exits without draining.
      let draining = false;
      const drain = () => {
        if (draining) return;
        draining = true;
        service.shutdown().then(
          () => resolveExit(0),
          (err) => {
            console.error(`rrpipe: shutdown failed: ${(err as Error).message}`);
            resolveExit(1);
          },
        );
      };
      let signals = 0;
      const onSignal = (signal: string) => {
        if (++signals > 1) {
          console.error(`rrpipe: second ${signal}, exiting without draining`);
          process.exit(1);
        }
        drain();
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGHUP', () => void service.reload());
      if (values.once) service.receiversDone().then(drain);
    });
  },
};
