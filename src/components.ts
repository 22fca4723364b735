import type { Factory } from './core/component.js';
import { Registry } from './core/registry.js';

/**
 * The built-in components. Each folder's index.ts exports `factory` (or `factories`); they are
 * registered through the same Registry.registerPlugin call that loads third-party plugins.
 */
const builtins: Promise<{ factory?: Factory; factories?: Factory[] }>[] = [
  import('./receivers/file/index.js'),
  import('./receivers/otlp/index.js'),
  import('./processors/batch/index.js'),
  import('./exporters/file/index.js'),
  import('./processors/memory_limiter/index.js'),
  import('./processors/filter/index.js'),
  import('./processors/transform/index.js'),
  import('./processors/attributes/index.js'),
  import('./processors/resource/index.js'),
  import('./processors/indexing/index.js'),
  import('./processors/redaction/index.js'),
  import('./processors/tokenization/index.js'),
  import('./exporters/debug/index.js'),
  import('./exporters/local_archive/index.js'),
  import('./exporters/otlp/index.js'),
  import('./exporters/otlphttp/index.js'),
  import('./exporters/awss3/index.js'),
  import('./exporters/googlecloudstorage/index.js'),
  import('./exporters/azure_blob/index.js'),
  import('./receivers/rehydrate/index.js'),
  import('./exporters/redis/index.js'),
  import('./exporters/bigtable/index.js'),
  import('./exporters/azuredataexplorer/index.js'),
  import('./exporters/awsdynamodb/index.js'),
  import('./exporters/firestore/index.js'),
  import('./extensions/health_check/index.js'),
  import('./extensions/file_storage/index.js'),
  import('./extensions/bearertokenauth/index.js'),
  import('./exporters/embedded/index.js'),
  import('./exporters/opensearch/index.js'),
  import('./exporters/elasticsearch/index.js'),
  import('./exporters/loki/index.js'),
  import('./extensions/query_api/index.js'),
  import('./receivers/nettap/index.js'),
  import('./connectors/count/index.js'),
  import('./connectors/sum/index.js'),
  import('./processors/deltatocumulative/index.js'),
  import('./exporters/prometheusremotewrite/index.js'),
  import('./receivers/prometheus/index.js'),
];

export async function builtinRegistry(): Promise<Registry> {
  const registry = new Registry();
  for (const mod of await Promise.all(builtins)) {
    registry.registerPlugin({ factories: mod.factories ?? (mod.factory ? [mod.factory] : []) }, 'built-in');
  }
  return registry;
}
