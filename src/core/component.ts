import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { MetricPoint, Signal } from './metric.js';
import type { Context, RRRecord } from './record.js';
import type { ComponentMetrics } from './telemetry.js';

export type Kind = 'receiver' | 'processor' | 'exporter' | 'extension' | 'connector';
export const KINDS: readonly Kind[] = ['receiver', 'processor', 'exporter', 'extension', 'connector'];
export type Stability = 'development' | 'alpha' | 'beta' | 'stable' | 'deprecated';

/** A JSON Schema object (draft 2020-12 subset that ajv understands). Defaults live in the schema. */
export type JSONSchema = { [key: string]: unknown };
/** A component's config schema: plain JSON Schema, or a TypeBox schema (which is JSON Schema too). */
export type ConfigSchema = TSchema | JSONSchema;

/** What a pipeline carries: RRPairs (logs pipelines) or metric data points (metrics pipelines). */
export type Item = RRRecord | MetricPoint;

/** The next stage of a pipeline. `consume` resolves only once that stage has accepted the batch. */
export interface Consumer<T extends Item = RRRecord> {
  consume(batch: T[], ctx: Context): Promise<void>;
}

/**
 * A consumer of whichever signal its pipeline carries. The config loader checks that every
 * component supports its pipeline's signal (`signals`, `connects`), so a logs component gets
 * RRRecords and a metrics component MetricPoints; each declares the one it takes on its own
 * `consume`. (Typed loosely at the factory boundary so that logs components written against
 * RRRecord need no casts.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConsumer = Consumer<any>;

export interface Component {
  start(host: Host): Promise<void>;
  /** Stop taking data and drain what was accepted; give up when `deadline` aborts. */
  shutdown(deadline: AbortSignal): Promise<void>;
}

/** A receiver that can end by itself (a file read once, a rehydration window). */
export interface FiniteReceiver extends Component {
  /** Resolves when the receiver has delivered everything it will ever deliver. */
  done(): Promise<void>;
}

export type ComponentStatus = 'starting' | 'ok' | 'recoverable_error' | 'permanent_error' | 'stopping' | 'stopped';

/** What the service offers components while they run. */
export interface Host {
  /** A started extension by id, e.g. "file_storage/queue". */
  getExtension<T = Component>(id: string): T | undefined;
  /** A started exporter by id, as a Consumer that counts what it hands over (dead-letter routing). */
  getExporter(id: string): AnyConsumer | undefined;
  /** The exporter component instance itself, for capabilities beyond consume (a QueryableStore). */
  getExporterComponent?(id: string): Component | undefined;
  /** Report a component's health; the health_check extension reads it. */
  reportStatus(id: string, status: ComponentStatus, error?: Error): void;
  /** The status of every pipeline and component. */
  status(): ServiceStatus;
  /** Directory for a component's own state (checkpoints, queues). */
  dataDir: string;
  /** True when running as a one-shot job. */
  oneShot: boolean;
  /**
   * The endpoint and credentials to read an archive location (s3://, gs://, azblob://) with, from
   * the config's archive components (a layouts StoreConnection); absent outside a service.
   */
  archiveConnection?(uri: string): object;
}

export interface ServiceStatus {
  running: boolean;
  pipelines: Record<string, ComponentStatus>;
  components: Record<string, { status: ComponentStatus; error?: string }>;
}

/**
 * Offered by a processor that removes sensitive data (redaction), so that a receiver can protect
 * what it dead-letters before any processor of its pipelines ran.
 */
export interface InputProtector {
  /** Free text (an input line that never became a record) with what the processor redacts redacted. */
  protectText(text: string): string;
  /** A redacted copy of an RRPair; the argument is not changed. */
  protectRRPair(rrpair: unknown): unknown;
}

export function isInputProtector(c: unknown): c is InputProtector {
  return typeof (c as Partial<InputProtector> | null)?.protectText === 'function' && typeof (c as Partial<InputProtector>).protectRRPair === 'function';
}

export interface CreateSettings<C> {
  /** Component id as written in the config: "type" or "type/name". */
  id: string;
  kind: Kind;
  config: C;
  logger: Logger;
  metrics: ComponentMetrics;
  /** Pipeline id, for processors (one instance per pipeline). */
  pipeline?: string;
  /** Directory of the config file, for resolving relative paths. */
  configDir: string;
  /** Receivers: the redaction of the pipelines they feed (absent when none redacts), for what they dead-letter. */
  protector?: InputProtector;
  /** Receivers: the signals of the pipelines they feed (a receiver of several signals serves only these). */
  signals?: readonly Signal[];
}

interface FactoryBase<C> {
  type: string;
  /** Older or alternative type names that resolve to this factory. */
  aliases?: string[];
  stability: Stability;
  /** One line for `rrpipe components`. */
  description: string;
  /**
   * JSON Schema of the config, with defaults (built-ins declare it with TypeBox through
   * config/fragments, and derive C from it with `Config<typeof schema>`).
   * `additionalProperties: false` is enforced at every object level.
   */
  schema: ConfigSchema;
  /** The pipeline types the component works in; logs only when absent. */
  signals?: readonly Signal[];
  /** Extra checks ajv cannot express; return messages, each with an optional config path. */
  validate?(config: C): ConfigProblem[];
}

export interface ConfigProblem {
  /** Path inside the component's config, e.g. ["s3uploader", "s3_bucket"]. */
  path?: (string | number)[];
  message: string;
  /** Character offset inside the string value at `path` (an OTTL expression), to point the column at it. */
  offset?: number;
}

export interface ReceiverFactory<C = unknown> extends FactoryBase<C> {
  kind: 'receiver';
  create(settings: CreateSettings<C>, next: AnyConsumer): Component | Promise<Component>;
}

export interface ProcessorFactory<C = unknown> extends FactoryBase<C> {
  kind: 'processor';
  /** True when the processor changes records in place; fan-out then hands it a copy. */
  mutatesData: boolean;
  create(settings: CreateSettings<C>, next: AnyConsumer): (Component & AnyConsumer) | Promise<Component & AnyConsumer>;
}

export interface ExporterFactory<C = unknown> extends FactoryBase<C> {
  kind: 'exporter';
  create(settings: CreateSettings<C>): (Component & AnyConsumer) | Promise<Component & AnyConsumer>;
}

export interface ExtensionFactory<C = unknown> extends FactoryBase<C> {
  kind: 'extension';
  create(settings: CreateSettings<C>): Component | Promise<Component>;
}

/** An exporter in one pipeline and a receiver in another. */
export interface ConnectorFactory<C = unknown> extends FactoryBase<C> {
  kind: 'connector';
  /** The [from, to] pipeline types the connector links; [['logs', 'logs']] when absent. */
  connects?: readonly (readonly [Signal, Signal])[];
  create(settings: CreateSettings<C>, next: AnyConsumer): (Component & AnyConsumer) | Promise<Component & AnyConsumer>;
}

/** A factory of any config type (what the registry holds); a component declares its own `C`. */
export type Factory<C = unknown> =
  | ReceiverFactory<C>
  | ProcessorFactory<C>
  | ExporterFactory<C>
  | ExtensionFactory<C>
  | ConnectorFactory<C>;

/** What a plugin module exports: `factories` (or a default export of a factory or an array of them). */
export interface PluginModule {
  factories?: Factory[];
  default?: Factory | Factory[] | { factories: Factory[] };
}

export function isFiniteReceiver(c: Component): c is FiniteReceiver {
  return typeof (c as Partial<FiniteReceiver>).done === 'function';
}

/** Split "type/name" into its parts. */
export function parseId(id: string): { type: string; name?: string } {
  const i = id.indexOf('/');
  return i < 0 ? { type: id } : { type: id.slice(0, i), name: id.slice(i + 1) };
}
