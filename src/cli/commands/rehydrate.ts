import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { builtinRegistry } from '../../components.js';
import { ConfigError } from '../../config/load.js';
import { Service } from '../../service/service.js';
import { activeRehydrations } from '../../receivers/rehydrate/index.js';
import type { CliCommand } from '../command.js';
import { progressBar } from './snapshot.js';

export const rehydrate: CliCommand = {
  name: 'rehydrate',
  summary: 'run a rehydration config once for a time window and exit when it is done',
  usage: `rrpipe rehydrate -c FILE [--start T] [--end T]

  -c, --config FILE   a config with a rehydrate receiver (repeat to merge files)
  --start, --end      override the window of every rehydrate receiver (RFC 3339 or relative, -6h)

Exits 0 once the window is delivered and every exporter drained; 1 if the rehydration failed.
A killed run resumes from its checkpoint (under service.data_dir) without duplicates.`,
  async run(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', multiple: true }, start: { type: 'string' }, end: { type: 'string' } } });
    if (!values.config?.length) {
      console.error('usage: rrpipe rehydrate -c FILE [--start T] [--end T]');
      return 2;
    }
    const texts: Record<string, string> = {};
    for (const f of values.config) {
      const doc = parseDocument(readFileSync(f, 'utf8'));
      const receivers = doc.get('receivers') as { items?: { key: { value?: unknown } | unknown }[] } | undefined;
      for (const item of receivers?.items ?? []) {
        const id = String((item.key as { value?: unknown })?.value ?? item.key);
        if (id !== 'rehydrate' && !id.startsWith('rehydrate/')) continue;
        if (values.start) doc.setIn(['receivers', id, 'start'], values.start);
        if (values.end) doc.setIn(['receivers', id, 'end'], values.end);
      }
      texts[f] = doc.toString();
    }
    const service = new Service({ files: values.config, texts, registry: await builtinRegistry({ lazy: true }), oneShot: true });
    try {
      await service.start();
    } catch (err) {
      console.error(err instanceof ConfigError ? err.message : `rrpipe rehydrate: failed to start: ${(err as Error).message}`);
      await service.shutdown().catch(() => undefined);
      return 1;
    }
    if (!service.hasFiniteReceivers()) {
      console.error('rrpipe rehydrate: the config has no rehydrate receiver in a pipeline');
      await service.shutdown();
      return 1;
    }
    const tick = setInterval(() => {
      for (const p of activeRehydrations) progressBar(p.objectsDone, p.objectsTotal, `${p.records} records, ${(p.bytesDone / 1e6).toFixed(1)} MB`);
    }, 500);
    let interrupted = false;
    const onSignal = () => {
      interrupted = true;
      void service.shutdown();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await service.receiversDone();
    clearInterval(tick);
    const failed = Object.entries(service.host?.status().components ?? {}).filter(([k, v]) => k.startsWith('receiver:') && v.status === 'permanent_error');
    await service.shutdown();
    if (process.stderr.isTTY) process.stderr.write('\n');
    for (const [k, v] of failed) console.error(`rrpipe rehydrate: ${k}: ${v.error}`);
    return failed.length || interrupted ? 1 : 0;
  },
};
