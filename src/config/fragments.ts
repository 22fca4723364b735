import type { JSONSchema } from '../core/component.js';

/**
 * Shared schema building blocks, so every component spells TLS, retries, queues and
 * endpoints the same way (as the OpenTelemetry Collector's confighttp/configretry do).
 */

/** A duration: "200ms", "5s", "1m", "7d" or a number of milliseconds. Converted to milliseconds. */
export function duration(def?: string | number, description?: string): JSONSchema {
  return { type: ['string', 'number'], 'x-duration': true, ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}) };
}

/** A size: "10MiB", "512KB" or a number of bytes. Converted to bytes. */
export function bytes(def?: string | number, description?: string): JSONSchema {
  return { type: ['string', 'number'], 'x-bytes': true, ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}) };
}

export function str(def?: string, description?: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'string', ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}), ...extra };
}

export function bool(def?: boolean, description?: string): JSONSchema {
  return { type: 'boolean', ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}) };
}

export function int(def?: number, description?: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'integer', ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}), ...extra };
}

export function num(def?: number, description?: string, extra: JSONSchema = {}): JSONSchema {
  return { type: 'number', ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}), ...extra };
}

export function oneOf(values: readonly string[], def?: string, description?: string): JSONSchema {
  return { type: 'string', enum: [...values], ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}) };
}

export function strings(def?: string[], description?: string): JSONSchema {
  return { type: 'array', items: { type: 'string' }, ...(def !== undefined ? { default: def } : {}), ...(description ? { description } : {}) };
}

/** An object whose keys are all declared; `default: {}` so nested defaults apply even when the block is absent. */
export function obj(properties: Record<string, JSONSchema>, opts: { required?: string[]; description?: string; default?: unknown } = {}): JSONSchema {
  return {
    type: 'object',
    properties,
    additionalProperties: false,
    ...(opts.required ? { required: opts.required } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    default: opts.default ?? {},
  };
}

/** A map of free-form string values (headers, attributes). */
export function stringMap(description?: string): JSONSchema {
  return { type: 'object', additionalProperties: { type: 'string' }, default: {}, ...(description ? { description } : {}) };
}

/** TLS client or server settings, with the OTel Collector's configtls key names. */
export function tls(description = 'TLS settings.'): JSONSchema {
  return obj(
    {
      insecure: bool(undefined, 'Client: use plaintext. Server: not used.'),
      insecure_skip_verify: bool(false, 'Client: do not verify the server certificate.'),
      ca_file: str(undefined, 'PEM file of the CA(s) to trust (client) or to verify client certificates with (server, mTLS).'),
      cert_file: str(undefined, 'PEM certificate file.'),
      key_file: str(undefined, 'PEM private key file.'),
      client_ca_file: str(undefined, 'Server: require and verify client certificates against this CA (mTLS).'),
      server_name_override: str(undefined, 'Client: the name to verify the server certificate against.'),
      min_version: oneOf(['1.2', '1.3'], undefined, 'Lowest TLS version accepted.'),
    },
    { description, default: undefined },
  );
}

/** sending_queue, with the OTel Collector's exporterhelper key names. */
export function sendingQueue(): JSONSchema {
  return obj(
    {
      enabled: bool(true, 'Queue records in front of the exporter, so the pipeline is acknowledged once they are queued.'),
      num_consumers: int(4, 'How many batches are exported at once.', { minimum: 1 }),
      queue_size: int(1000, 'Capacity in units of the sizer.', { minimum: 1 }),
      sizer: oneOf(['requests', 'items', 'bytes'], 'requests', 'What queue_size counts.'),
      block_on_overflow: bool(true, 'When full, hold the sender until there is room (backpressure) instead of refusing with a retryable error.'),
      storage: str(undefined, 'Id of a storage extension (file_storage) that makes the queue persistent.'),
    },
    { description: 'The queue in front of the exporter.' },
  );
}

/** retry_on_failure, with the OTel Collector's configretry key names. */
export function retryOnFailure(): JSONSchema {
  return obj(
    {
      enabled: bool(true, 'Retry failures that may succeed later.'),
      initial_interval: duration('5s', 'Wait before the first retry.'),
      max_interval: duration('30s', 'Longest wait between retries.'),
      max_elapsed_time: duration('5m', 'Give up (dead-letter) after this long; 0 retries forever.'),
      multiplier: num(1.5, 'Backoff growth per retry.', { minimum: 1 }),
      randomization_factor: num(0.5, 'Jitter, as a fraction of the interval.', { minimum: 0, maximum: 1 }),
    },
    { description: 'Retries with exponential backoff.' },
  );
}

/** Where records that can never be delivered go: a directory, or another exporter. */
export function deadLetter(opts: { receiver?: boolean } = {}): JSONSchema {
  return obj(
    {
      path: str(undefined, 'Directory for dead-letter files (raw.jsonl lines with the reason).'),
      exporter: str(undefined, 'Id of another exporter that takes dead-lettered records.'),
      ...(opts.receiver
        ? { raw: bool(false, 'Keep refused input in clear in the dead-letter file. Off: only its SHA-256, size and the reason (input is refused before any redaction ran).') }
        : {}),
    },
    { description: 'Destination for records that cannot be delivered (permanent errors).', default: undefined },
  );
}

/** The exporter helper's settings, to spread into an exporter's properties. */
export function exporterHelperProperties(opts: { timeout?: string } = {}): Record<string, JSONSchema> {
  return {
    timeout: duration(opts.timeout ?? '30s', 'Time limit for one export attempt.'),
    sending_queue: sendingQueue(),
    retry_on_failure: retryOnFailure(),
    dead_letter: deadLetter(),
  };
}
