import type { Factory } from './core/component.js';
import { Registry } from './core/registry.js';

type BuiltinModule = { factory?: Factory; factories?: Factory[] };

/**
 * The built-in components: the type a folder's index.ts registers (its folder name), and the
 * module. Each exports `factory` (or `factories`); they are registered through the same
 * Registry.registerPlugin call that loads third-party plugins, when a config first names the
 * type (config/load.ts), so start-up loads only what the config uses.
 */
const builtins: [string, () => Promise<BuiltinModule>][] = [
  ['file', () => import('./receivers/file/index.js')],
  ['otlp', () => import('./receivers/otlp/index.js')],
  ['batch', () => import('./processors/batch/index.js')],
  ['file', () => import('./exporters/file/index.js')],
  ['memory_limiter', () => import('./processors/memory_limiter/index.js')],
  ['filter', () => import('./processors/filter/index.js')],
  ['transform', () => import('./processors/transform/index.js')],
  ['attributes', () => import('./processors/attributes/index.js')],
  ['resource', () => import('./processors/resource/index.js')],
  ['indexing', () => import('./processors/indexing/index.js')],
  ['redaction', () => import('./processors/redaction/index.js')],
  ['tokenization', () => import('./processors/tokenization/index.js')],
  ['debug', () => import('./exporters/debug/index.js')],
  ['local_archive', () => import('./exporters/local_archive/index.js')],
  ['otlp', () => import('./exporters/otlp/index.js')],
  ['otlphttp', () => import('./exporters/otlphttp/index.js')],
  ['awss3', () => import('./exporters/awss3/index.js')],
  ['googlecloudstorage', () => import('./exporters/googlecloudstorage/index.js')],
  ['azure_blob', () => import('./exporters/azure_blob/index.js')],
  ['azure_datalake', () => import('./exporters/azure_datalake/index.js')],
  ['rehydrate', () => import('./receivers/rehydrate/index.js')],
  ['redis', () => import('./exporters/redis/index.js')],
  ['bigtable', () => import('./exporters/bigtable/index.js')],
  ['azuredataexplorer', () => import('./exporters/azuredataexplorer/index.js')],
  ['awsdynamodb', () => import('./exporters/awsdynamodb/index.js')],
  ['firestore', () => import('./exporters/firestore/index.js')],
  ['azurecosmosdb', () => import('./exporters/azurecosmosdb/index.js')],
  ['awstimestream', () => import('./exporters/awstimestream/index.js')],
  ['azureaisearch', () => import('./exporters/azureaisearch/index.js')],
  ['health_check', () => import('./extensions/health_check/index.js')],
  ['file_storage', () => import('./extensions/file_storage/index.js')],
  ['bearertokenauth', () => import('./extensions/bearertokenauth/index.js')],
  ['embedded', () => import('./exporters/embedded/index.js')],
  ['opensearch', () => import('./exporters/opensearch/index.js')],
  ['elasticsearch', () => import('./exporters/elasticsearch/index.js')],
  ['loki', () => import('./exporters/loki/index.js')],
  ['query_api', () => import('./extensions/query_api/index.js')],
  ['nettap', () => import('./receivers/nettap/index.js')],
  ['count', () => import('./connectors/count/index.js')],
  ['sum', () => import('./connectors/sum/index.js')],
  ['deltatocumulative', () => import('./processors/deltatocumulative/index.js')],
  ['prometheusremotewrite', () => import('./exporters/prometheusremotewrite/index.js')],
  ['prometheus', () => import('./receivers/prometheus/index.js')],
  ['rrpairmetrics', () => import('./connectors/rrpairmetrics/index.js')],
  ['prometheus', () => import('./exporters/prometheus/index.js')],
];

/** The built-ins, all loaded; `{ lazy: true }`: each when a config first names its type (the CLI's start-up). */
export async function builtinRegistry(opts: { lazy?: boolean } = {}): Promise<Registry> {
  const registry = new Registry();
  for (const [type, load] of builtins) {
    registry.registerLazy({ type, load: async () => { const mod = await load(); return { factories: mod.factories ?? (mod.factory ? [mod.factory] : []) }; } });
  }
  if (!opts.lazy) await registry.loadAll();
  return registry;
}
