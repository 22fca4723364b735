/** rrpipe's public API: what a plugin or an embedding program may use. */
export type {
  Component, Consumer, CreateSettings, Factory, FiniteReceiver, Host, Kind, Stability, JSONSchema,
  ReceiverFactory, ProcessorFactory, ExporterFactory, ExtensionFactory, ConnectorFactory, PluginModule,
  ConfigProblem, ComponentStatus, ServiceStatus,
} from './core/component.js';
export { parseId } from './core/component.js';
export type { RRRecord, RecordBatch, Context, Attrs } from './core/record.js';
export { newRecord, cloneRecord, recordSize, nowNs } from './core/record.js';
export type { RRPair, Headers, HttpRequest, HttpResponse } from './rrpair/types.js';
export type { IndexDoc } from './rrpair/index-doc.js';
export { RetryableError, PermanentError, BackpressureError, ShutdownError, PartialFailureError, type ItemFailure } from './core/errors.js';
export { Registry } from './core/registry.js';
export { Telemetry, noopMetrics, type ComponentMetrics } from './core/telemetry.js';
export { Service, type ServiceOptions } from './service/service.js';
export { loadConfig, ConfigError, type ResolvedConfig } from './config/load.js';
export * as schema from './config/fragments.js';
export { parseDuration, parseBytes } from './config/units.js';
export { createExporter, type ExporterHelperConfig, type PushTarget, type QueueStorage } from './helpers/exporter.js';
export { builtinRegistry } from './components.js';
export { render, parameterize, findTokens, PATTERNS, type TokenEntry, type RenderOptions } from './rrpair/tokens.js';
export { renderJsonl, type RenderFileOptions, type RenderFileResult } from './rrpair/render-file.js';
export { deriveCLS, registerProtocolRule, buildIndexDoc, indexDocOf, recordId } from './rrpair/derive.js';
export {
  isQueryableStore, hasOpenReader, encodeAfter, decodeAfter,
  type QueryableStore, type QueryFilter, type QueryHit, type QueryPage, type StoreReader, type QueryableStoreFactory,
} from './core/query.js';
