import { address, duration, list, obj, oneOf, path, raw, str, strings, type Config } from './fragments.js';

const pipeline = obj(
  {
    receivers: strings(undefined, 'Receivers (or connectors) feeding the pipeline.', { minItems: 1 }),
    processors: strings([], 'Processors, in order.'),
    exporters: strings(undefined, 'Exporters (or connectors) the pipeline feeds.', { minItems: 1 }),
  },
  { required: ['receivers', 'exporters'] },
);

const componentSection = raw<Record<string, unknown> | null>({ type: ['object', 'null'] });

const serviceSchema = obj(
  {
    extensions: strings([], 'Extensions to start, by id.'),
    pipelines: raw<Record<string, Config<typeof pipeline>>>({
      type: 'object', additionalProperties: pipeline, minProperties: 1,
      description: 'Pipelines by id ("logs" or "logs/<name>"); at least one.',
    }),
    telemetry: obj({
      logs: obj({
        level: oneOf(['debug', 'info', 'warn', 'error', 'silent'], 'info'),
        encoding: oneOf(['json'], 'json'),
      }, { default: {} }),
      metrics: obj({
        level: oneOf(['none', 'basic', 'normal', 'detailed'], 'normal'),
        address: address('localhost:8888', 'host:port where /metrics is served in Prometheus text format.'),
        readers: list(raw<Record<string, unknown>>({ type: 'object' }), undefined, 'OTel-style readers; a pull/prometheus reader sets the address.'),
      }, { default: {} }),
      resource: raw<Record<string, string | null>>({ type: 'object', additionalProperties: { type: ['string', 'null'] } }),
      traces: raw<Record<string, unknown>>({ type: 'object', description: 'Accepted for OpenTelemetry Collector compatibility; rrpipe emits no traces.' }),
    }, { default: {} }),
    grace_period: duration('30s', 'On SIGTERM, how long to drain queues before exiting.'),
    data_dir: path('./data', 'Directory for state: file offsets, persistent queues, checkpoints.'),
    umask: str('077', 'Process umask for everything rrpipe writes: "077" makes files 0600 and folders 0700; "027" lets the group read.', { pattern: '^0?[0-7]{3}$' }),
  },
  { required: ['pipelines'] },
);

export type ServiceConfig = Config<typeof serviceSchema>;

/** The shape of the whole file; component bodies are checked against their own factory's schema. */
export const topLevelSchema = obj(
  {
    plugins: strings(undefined, 'Modules that export component factories: paths (relative to this file) or npm package names.'),
    receivers: componentSection,
    processors: componentSection,
    exporters: componentSection,
    connectors: componentSection,
    extensions: componentSection,
    service: serviceSchema,
  },
  { required: ['service'] },
);
