import {
  Type, OptionalKind,
  type TArray, type TBoolean, type TInteger, type TNumber, type TObject, type TOptional, type TProperties, type TRecord,
  type TSchema, type TString, type TUnion, type TUnsafe, type Static,
} from '@sinclair/typebox';
import type { JSONSchema } from '../core/component.js';

/**
 * Shared schema building blocks, so every component spells TLS, retries, queues and endpoints
 * the same way (as the OpenTelemetry Collector's confighttp/configretry/configtls do).
 *
 * Every block is a TypeBox schema: plain JSON Schema at run time (ajv validates it, fills
 * defaults, converts units) and, through `Config<typeof schema>`, the TypeScript type of the
 * config as a component receives it. One declaration, no hand-kept interface beside it.
 *
 * Keywords rrpipe adds: `x-duration` / `x-bytes` (converted to ms / bytes), `x-secret` (masked
 * wherever the config could print; an unset `${env:…}` there is an error), `x-path` (resolved
 * against the directory of the config file that names it), `x-address` (a listen or connect
 * address; an unset `${env:…}` there is an error).
 */

/** Marks a schema whose key is always present after defaults are applied. */
export type Defaulted<T extends TSchema> = T & { default: unknown };

type Present<S> = S extends { default: unknown } ? true : S extends { [OptionalKind]: 'Optional' } ? false : true;
type Flat<T> = { [K in keyof T]: T[K] } & {};

/**
 * The type of a config after ajv applied defaults and converted units: keys with a default (and
 * required keys) are present, every other key is optional.
 */
export type Config<T> =
  T extends TObject<infer P> ? ConfigObject<P>
  : T extends TArray<infer I> ? Config<I>[]
  : T extends TRecord<TString, infer V> ? Record<string, Config<V>>
  : T extends TUnion<infer U> ? Config<U[number]>
  : T extends TSchema ? Static<T>
  : unknown;

type ConfigObject<P extends TProperties> = Flat<
  { -readonly [K in keyof P as Present<P[K]> extends true ? K : never]: Config<P[K]> } &
  { -readonly [K in keyof P as Present<P[K]> extends true ? never : K]?: Config<P[K]> }
>;

type Extra = JSONSchema;
type D<T extends TSchema, Def> = Def extends undefined ? T : Defaulted<T>;

function opts(def: unknown, description: string | undefined, extra: Extra = {}): Extra {
  return { ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}), ...extra };
}

/** A schema given as plain JSON Schema, with the TypeScript type it validates to. */
export function raw<T>(schema: JSONSchema): TUnsafe<T> {
  return Type.Unsafe<T>(schema);
}

/** The same schema with a default (so the key is always present after defaults). */
export function withDefault<T extends TSchema>(schema: T, def: unknown): Defaulted<T> {
  return { ...schema, default: def } as Defaulted<T>;
}

/** A duration: "200ms", "5s", "1m", "7d" or a number of milliseconds. Converted to milliseconds. */
export function duration<Def extends string | number | undefined = undefined>(def?: Def, description?: string): D<TUnsafe<number>, Def> {
  return Type.Unsafe<number>({ type: ['string', 'number'], 'x-duration': true, ...opts(def, description) }) as D<TUnsafe<number>, Def>;
}

/** A size: "10MiB", "512KB" or a number of bytes. Converted to bytes. */
export function bytes<Def extends string | number | undefined = undefined>(def?: Def, description?: string): D<TUnsafe<number>, Def> {
  return Type.Unsafe<number>({ type: ['string', 'number'], 'x-bytes': true, ...opts(def, description) }) as D<TUnsafe<number>, Def>;
}

export function str<Def extends string | undefined = undefined>(def?: Def, description?: string, extra: Extra = {}): D<TString, Def> {
  return Type.String(opts(def, description, extra)) as D<TString, Def>;
}

/** A secret string (password, token, key, connection string): masked in print-config, logs and errors. */
export function secret(description: string, extra: Extra = {}): TString {
  return Type.String(opts(undefined, description, { 'x-secret': true, ...extra }));
}

/** A file or directory path, resolved against the directory of the config file that names it. */
export function path<Def extends string | undefined = undefined>(def?: Def, description?: string, extra: Extra = {}): D<TString, Def> {
  return Type.String(opts(def, description, { 'x-path': true, ...extra })) as D<TString, Def>;
}

/** An address to listen on or connect to ("host:port" or a URL). An unset `${env:…}` here is an error. */
export function address<Def extends string | undefined = undefined>(def?: Def, description?: string): D<TString, Def> {
  return Type.String(opts(def, description, { 'x-address': true })) as D<TString, Def>;
}

export function bool<Def extends boolean | undefined = undefined>(def?: Def, description?: string): D<TBoolean, Def> {
  return Type.Boolean(opts(def, description)) as D<TBoolean, Def>;
}

export function int<Def extends number | undefined = undefined>(def?: Def, description?: string, extra: Extra = {}): D<TInteger, Def> {
  return Type.Integer(opts(def, description, extra)) as D<TInteger, Def>;
}

export function num<Def extends number | undefined = undefined>(def?: Def, description?: string, extra: Extra = {}): D<TNumber, Def> {
  return Type.Number(opts(def, description, extra)) as D<TNumber, Def>;
}

export function oneOf<const V extends readonly string[], Def extends V[number] | undefined = undefined>(values: V, def?: Def, description?: string): D<TUnsafe<V[number]>, Def> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...opts(def, description) }) as D<TUnsafe<V[number]>, Def>;
}

export function strings<Def extends string[] | undefined = undefined>(def?: Def, description?: string, extra: Extra = {}): D<TArray<TString>, Def> {
  return Type.Array(Type.String(), opts(def, description, extra)) as D<TArray<TString>, Def>;
}

export function list<T extends TSchema, Def extends unknown[] | undefined = undefined>(items: T, def?: Def, description?: string, extra: Extra = {}): D<TArray<T>, Def> {
  return Type.Array(items, opts(def, description, extra)) as D<TArray<T>, Def>;
}

/** A property given as plain JSON Schema (no TypeBox type) validates but types as unknown. */
type Norm<S> = S extends TSchema ? S : TUnsafe<unknown>;
type ObjectOf<P extends Record<string, TSchema | JSONSchema>, R extends string> = TObject<{ [K in keyof P]: K extends R ? Norm<P[K]> : TOptional<Norm<P[K]>> }>;

/**
 * An object whose keys are all declared. Keys not in `required` may be left out. The block itself
 * has no default: left out of the config, it stays absent. Give `default: {}` only for a block
 * that is always present (its nested defaults then apply); the type says so.
 */
export function obj<P extends Record<string, TSchema | JSONSchema>, R extends string = never, Def extends object | undefined = undefined>(
  properties: P,
  o: { required?: readonly R[]; description?: string; default?: Def } = {},
): D<ObjectOf<P, R>, Def> {
  const req = new Set<string>(o.required ?? []);
  const props: TProperties = {};
  for (const [k, s] of Object.entries(properties) as [string, TSchema][]) props[k] = req.has(k) ? s : Type.Optional(s);
  return Type.Object(props, { additionalProperties: false, ...opts(o.default, o.description) }) as unknown as D<ObjectOf<P, R>, Def>;
}

/** A map of free-form string values (attributes, response headers). Always present (`{}`). */
export function stringMap(description?: string, extra: Extra = {}): Defaulted<TUnsafe<Record<string, string>>> {
  return Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, default: {}, ...(description ? { description } : {}), ...extra }) as Defaulted<TUnsafe<Record<string, string>>>;
}

/** Headers sent to a backend: may carry credentials (Authorization, X-Api-Key), so every value is a secret. */
export function secretHeaders(description = 'Headers sent with every request; values are treated as secrets.'): Defaulted<TUnsafe<Record<string, string>>> {
  return stringMap(description, { 'x-secret': true });
}

const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'] as const;

/** The keys of configtls's Config that both clients and servers use. */
function tlsCertAndVersions() {
  return {
    cert_file: path(undefined, 'PEM certificate file.'),
    cert_pem: str(undefined, 'PEM certificate text (instead of cert_file).'),
    key_file: path(undefined, 'PEM private key file.'),
    key_pem: secret('PEM private key text (instead of key_file).'),
    min_version: oneOf(TLS_VERSIONS, '1.2', 'Lowest TLS version accepted.'),
    max_version: oneOf(TLS_VERSIONS, undefined, 'Highest TLS version accepted (default: the highest Node supports).'),
  };
}

/** TLS of a component that connects (OTel configtls.ClientConfig): absent means the scheme decides. */
export function tlsClient(description = 'Client TLS (OTel configtls.ClientConfig).') {
  return obj(
    {
      ca_file: path(undefined, 'PEM file of the CA(s) to trust (default: the system CAs).'),
      ca_pem: str(undefined, 'PEM text of the CA(s) to trust (instead of ca_file).'),
      include_system_ca_certs_pool: bool(false, 'Trust the system CAs as well as ca_file / ca_pem.'),
      ...tlsCertAndVersions(),
      insecure: bool(false, 'Connect in plaintext (gRPC); has no effect on https:// URLs.'),
      insecure_skip_verify: bool(false, 'Do not verify the server certificate.'),
      server_name_override: str(undefined, 'The name to verify the server certificate against (and send as SNI).'),
    },
    { description },
  );
}

/** TLS of a component that listens (OTel configtls.ServerConfig): absent means plaintext. */
export function tlsServer(description = 'Server TLS (OTel configtls.ServerConfig): cert_file and key_file turn TLS on.') {
  return obj(
    {
      ...tlsCertAndVersions(),
      client_ca_file: path(undefined, 'Require client certificates and verify them against this CA (mTLS).'),
    },
    { description },
  );
}

export type TlsClientConfig = Config<ReturnType<typeof tlsClient>>;
export type TlsServerConfig = Config<ReturnType<typeof tlsServer>>;

/** sending_queue, with the OTel Collector's exporterhelper key names. Always present. */
export function sendingQueue() {
  return obj(
    {
      enabled: bool(true, 'Queue records in front of the exporter, so the pipeline is acknowledged once they are queued.'),
      num_consumers: int(4, 'How many batches are exported at once.', { minimum: 1 }),
      queue_size: int(1000, 'Capacity in units of the sizer.', { minimum: 1 }),
      sizer: oneOf(['requests', 'items', 'bytes'], 'requests', 'What queue_size counts.'),
      block_on_overflow: bool(true, 'When full, hold the sender until there is room (backpressure) instead of refusing with a retryable error.'),
      storage: str(undefined, 'Id of a storage extension (file_storage) that makes the queue persistent.'),
    },
    { description: 'The queue in front of the exporter.', default: {} },
  );
}

/** retry_on_failure, with the OTel Collector's configretry key names. Always present. */
export function retryOnFailure() {
  return obj(
    {
      enabled: bool(true, 'Retry failures that may succeed later.'),
      initial_interval: duration('5s', 'Wait before the first retry.'),
      max_interval: duration('30s', 'Longest wait between retries.'),
      max_elapsed_time: duration('5m', 'Give up (dead-letter) after this long; 0 retries forever.'),
      multiplier: num(1.5, 'Backoff growth per retry.', { minimum: 1 }),
      randomization_factor: num(0.5, 'Jitter, as a fraction of the interval.', { minimum: 0, maximum: 1 }),
    },
    { description: 'Retries with exponential backoff.', default: {} },
  );
}

/** Where records that can never be delivered go: a directory, or another exporter. */
export function deadLetter() {
  return obj(deadLetterProperties(), { description: 'Destination for records that cannot be delivered (permanent errors).' });
}

/** A receiver's dead_letter block: as deadLetter(), plus `raw`, since receivers refuse input before any redaction ran. */
export function receiverDeadLetter() {
  return obj(
    {
      ...deadLetterProperties(),
      raw: bool(false, 'Keep refused input as it came in the dead-letter file. Off: the input as the redaction of the pipelines it feeds leaves it, or only its SHA-256, size and the reason when none redacts.'),
    },
    { description: 'Destination for input that cannot be delivered (permanent errors).' },
  );
}

function deadLetterProperties() {
  return {
    path: path(undefined, 'Directory for dead-letter files (raw.jsonl lines with the reason); default <data_dir>/dead_letter.'),
    exporter: str(undefined, 'Id of another exporter that takes dead-lettered records.'),
  };
}

/** The exporter helper's settings, to spread into an exporter's properties. */
export function exporterHelperProperties(o: { timeout?: string } = {}) {
  return {
    timeout: duration(o.timeout ?? '30s', 'Time limit for one export attempt.'),
    sending_queue: sendingQueue(),
    retry_on_failure: retryOnFailure(),
    dead_letter: deadLetter(),
  };
}

const helperSchema = obj(exporterHelperProperties());
/** The settings every exporter shares, as the helper receives them. */
export type ExporterHelperConfig = Config<typeof helperSchema>;
