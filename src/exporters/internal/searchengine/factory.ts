/** The factory of a search exporter: the shared schema, exporter and read-only reader on one engine's client. */
import type { CreateSettings, ExporterFactory, Host, Stability } from '../../../core/component.js';
import { PermanentError } from '../../../core/errors.js';
import type { QueryableStore, QueryableStoreFactory } from '../../../core/query.js';
import { createExporter } from '../../../helpers/exporter.js';
import { bulkPush } from './bulk.js';
import type { EngineClient } from './client.js';
import { resolveSettings, searchExporterSchema, validateSearchConfig, type Flavor, type Resolved, type SearchExporterConfig } from './config.js';
import { searchStore } from './query.js';
import { manage } from './templates.js';

export interface SearchExporterParts {
  flavor: Flavor;
  makeClient(s: Resolved, c: SearchExporterConfig): Promise<EngineClient>;
}

export type SearchExporter = ReturnType<typeof createExporter> & QueryableStore;

/** The factory of a search exporter (opensearch, elasticsearch): the same schema, exporter and reader on the engine's client. */
export function searchExporterFactory(
  parts: SearchExporterParts & { description: string; stability: Stability },
): ExporterFactory<SearchExporterConfig> & QueryableStoreFactory<SearchExporterConfig> {
  return {
    kind: 'exporter',
    type: parts.flavor,
    stability: parts.stability,
    description: parts.description,
    schema: searchExporterSchema(parts.flavor),
    validate: validateSearchConfig,
    create: (s) => createSearchExporter(s, parts),
    async openReader(s) {
      const r = resolveSettings(s.config, s.configDir, parts.flavor);
      const client = await parts.makeClient(r, s.config);
      return { ...searchStore(() => client, () => r, s.config), close: () => client.close() };
    },
  };
}

export function createSearchExporter(settings: CreateSettings<SearchExporterConfig>, parts: SearchExporterParts): SearchExporter {
  const c = settings.config;
  const log = settings.logger;
  let client: EngineClient | undefined;
  let resolved: Resolved | undefined;
  const itemErrors = settings.metrics.counter('search_bulk_item_errors', 'Bulk items a search cluster rejected, by status.', ['status']);

  const helper = createExporter(settings, {
    async start(_host: Host) {
      resolved = resolveSettings(c, settings.configDir, parts.flavor);
      client = await parts.makeClient(resolved, c);
      if (c.index_management.enabled) await manage(client, resolved, c, parts.flavor, log);
    },
    async push(batch, signal) {
      if (!client || !resolved) throw new PermanentError(`exporter ${settings.id} is not started`);
      await bulkPush(client, resolved, c, batch, signal, (status) => itemErrors.inc({ status: String(status) }));
    },
    async shutdown() {
      await client?.close();
      client = undefined;
    },
  });
  const store = searchStore(() => client, () => resolved, c);
  return Object.assign(helper, { query: store.query, get: store.get, aggregate: store.aggregate });
}
