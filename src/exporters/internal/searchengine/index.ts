/**
 * What the opensearch and elasticsearch exporters share, split along its seams: the config schema
 * (config.ts), the index template and retention policies (templates.ts), bulk writing (bulk.ts),
 * QueryFilter → query DSL (query.ts), the client adapter (client.ts) and the factory (factory.ts).
 * Each exporter's folder supplies an EngineClient built on its official client and its stability.
 */
export { searchExporterSchema, resolveSettings, validateSearchConfig, type Flavor, type TlsConfig, type SearchExporterConfig, type Resolved } from './config.js';
export { mappings, timeValue, indexTemplate, ilmPolicy, ismPolicy } from './templates.js';
export { statusOf, errorType, classify, type BulkItemResult, type SearchHitRaw, type EngineClient } from './client.js';
export { documentOf, indexFor, itemRetryable, bulkPush } from './bulk.js';
export { toLuceneRegex, searchBody, hitOf, searchStore } from './query.js';
export { searchExporterFactory, createSearchExporter, type SearchExporterParts, type SearchExporter } from './factory.js';
