import type { JSONSchema } from '../core/component.js';
import { duration, obj, oneOf, str, strings } from './fragments.js';

const pipeline = obj(
  {
    receivers: { ...strings(), minItems: 1 },
    processors: strings([]),
    exporters: { ...strings(), minItems: 1 },
  },
  { required: ['receivers', 'exporters'], default: undefined },
);

const componentSection: JSONSchema = { type: ['object', 'null'], default: {} };

/** The shape of the whole file; component bodies are checked against their own factory's schema. */
export const topLevelSchema: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plugins: strings(undefined, 'Modules that export component factories: paths (relative to this file) or npm package names.'),
    receivers: componentSection,
    processors: componentSection,
    exporters: componentSection,
    connectors: componentSection,
    extensions: componentSection,
    service: obj(
      {
        extensions: strings([]),
        pipelines: { type: 'object', additionalProperties: pipeline, default: {} },
        telemetry: obj({
          logs: obj({
            level: oneOf(['debug', 'info', 'warn', 'error', 'silent'], 'info'),
            encoding: oneOf(['json'], 'json'),
          }),
          metrics: obj({
            level: oneOf(['none', 'basic', 'normal', 'detailed'], 'normal'),
            address: str('localhost:8888', 'host:port where /metrics is served in Prometheus text format.'),
            readers: { type: 'array', items: { type: 'object' }, description: 'OTel-style readers; a pull/prometheus reader sets the address.' },
          }),
          resource: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
          traces: { type: 'object', description: 'Accepted for OpenTelemetry Collector compatibility; rrpipe emits no traces.' },
        }),
        grace_period: duration('30s', 'On SIGTERM, how long to drain queues before exiting.'),
        data_dir: str('./data', 'Directory for state: file offsets, persistent queues, checkpoints.'),
        umask: { type: 'string', pattern: '^0?[0-7]{3}$', default: '077', description: 'Process umask for everything rrpipe writes: "077" makes files 0600 and folders 0700; "027" lets the group read.' },
      },
      { required: ['pipelines'], default: undefined },
    ),
  },
  required: ['service'],
};
