import type { ExporterFactory } from '../../core/component.js';
import type { QueryableStoreFactory } from '../../core/query.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, obj, secret, str, type Config } from '../../config/fragments.js';
import { createExporter } from '../../helpers/exporter.js';
import { queryable } from '../../helpers/hot-store.js';
import { AiSearchStore } from './store.js';

const schema = obj({
  endpoint: address(undefined, 'Search service URL, e.g. https://<service>.search.windows.net.'),
  api_key: secret('Admin API key (api-key header): writes, index creation and deletes need an admin key.'),
  index_name: str('rrpairs', 'Index.', { minLength: 2, maxLength: 128, pattern: '^[a-z0-9][a-z0-9-]*$' }),
  create_index: bool(false, 'Create the index (schema derived from the index document) on start when it is missing.'),
  store_rrpair: bool(false, 'Keep the full RRPair (JSON, retrievable only) in the document. Off: `rrpipe query --output raw` fetches the RRPair through archive_uri.'),
  retention: duration('7d', 'Documents whose ts is older than this are deleted by rrpipe every retention_interval (AI Search has no TTL); 0 keeps them.'),
  retention_interval: duration('1h', 'How often the retention delete runs.'),
  max_document_size: bytes('16MiB', 'Largest document sent; larger records are dead-lettered (an index request is at most 16 MB).'),
  concurrency: int(2, 'Index batches in flight per batch of records.', { minimum: 1 }),
  max_retries: int(3, 'Retries the Azure SDK makes per request on 429/503 (honouring Retry-After) before the exporter helper retries.', { minimum: 0 }),
  ...exporterHelperProperties(),
});

export type AzureAiSearchExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<AzureAiSearchExporterConfig> & QueryableStoreFactory<AzureAiSearchExporterConfig> = {
  kind: 'exporter',
  type: 'azureaisearch',
  stability: 'alpha',
  description: 'Short-term index in Azure AI Search: schema from the index document, mergeOrUpload batches keyed by RRPair id, retention by a scheduled delete by ts; queryable with $filter.',
  schema,
  create(s) {
    const store = new AiSearchStore(s.config, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b) => store.push(b), shutdown: () => store.shutdown() }), store);
  },
  async openReader(s) {
    const store = new AiSearchStore(s.config, s.logger);
    store.open();
    return { query: (f, o) => store.query(f, o), get: (id) => store.get(id), close: async () => undefined };
  },
};
