/**
 * Loki 3's native OTLP log ingestion (`POST /otlp/v1/logs`), as the fake models it, written from
 * Grafana's "Ingesting logs to Loki using OpenTelemetry Collector" page
 * (https://grafana.com/docs/loki/latest/send-data/otel/, "Format considerations") and
 * "A guide to the native OTLP log format in Loki 3"
 * (https://grafana.com/docs/grafana-cloud/send-data/otlp/adopt-new-logs-format/):
 *
 * - Index labels: only resource attributes, and by default only the documented list below, plus
 *   those a Loki config promotes (`limits_config.otlp_config.resource_attributes.attributes_config`
 *   with `action: index_label`: the fake's `otlpIndexLabels`). `service.name` becomes
 *   `service_name`, "unknown_service" when the resource has none.
 * - Names: every character outside [a-zA-Z0-9_] becomes `_` (k8s.namespace.name → k8s_namespace_name).
 * - The line: LogRecord.Body as a string (a map or array as its JSON text, keys in order).
 * - Timestamp: LogRecord.TimeUnixNano, else ObservedTimeUnixNano, else the time of arrival.
 * - Structured metadata: everything else: the other resource attributes, the scope's name,
 *   version and attributes, the log attributes, severity_text, severity_number, trace_id, span_id,
 *   flags. Refused, as malformed, when the tenant does not allow structured metadata.
 * - Bodies: `application/x-protobuf` (ExportLogsServiceRequest; a truncated or malformed message
 *   refused, unknown fields skipped as Loki's Go protobuf decoder does) or `application/json`
 *   (OTLP/JSON), `Content-Encoding` gzip or none; anything else 415.
 */
import { gunzipSync } from 'node:zlib';
import { decodeLogsRequestReference } from '../../../src/rrpair/otlp-proto.js';

export class OtlpRefusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The resource attributes Loki 3 indexes by default (docs: "Format considerations"). */
export const DEFAULT_INDEX_ATTRIBUTES = [
  'cloud.availability_zone', 'cloud.region', 'container.name', 'deployment.environment', 'deployment.environment.name',
  'k8s.cluster.name', 'k8s.container.name', 'k8s.cronjob.name', 'k8s.daemonset.name', 'k8s.deployment.name',
  'k8s.job.name', 'k8s.namespace.name', 'k8s.pod.name', 'k8s.replicaset.name', 'k8s.statefulset.name',
  'service.instance.id', 'service.name', 'service.namespace',
];

export interface OtlpEntry {
  labels: Map<string, string>;
  tsNs: bigint;
  line: string;
  metadata: Record<string, string>;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number; bytesValue?: string; arrayValue?: { values?: AnyValue[] }; kvlistValue?: { values?: KV[] } };
type KV = { key?: string; value?: AnyValue };

export const lokiName = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_');

function raw(v: AnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(raw);
  if (v.kvlistValue) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key ?? '', raw(kv.value)]));
  return null;
}

/** pcommon.Value.AsString: a string as it is, anything else as its JSON text. */
function asString(v: AnyValue | undefined): string {
  const r = raw(v);
  if (r === null) return '';
  return typeof r === 'string' ? r : JSON.stringify(r);
}

function nanos(v: unknown): bigint {
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return 0n;
}

/** OTLP/JSON ids are hex; protobufjs gives bytes as base64. */
function hexId(v: unknown, json: boolean): string {
  if (typeof v !== 'string' || v === '') return '';
  return json ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
}

function decode(contentType: string, contentEncoding: string, body: Buffer): { doc: { resourceLogs?: unknown[] }; json: boolean } {
  if (contentEncoding === 'gzip') {
    try {
      body = gunzipSync(body);
    } catch (err) {
      throw new OtlpRefusal(400, `gzip: invalid header: ${(err as Error).message}`);
    }
  } else if (contentEncoding !== '') throw new OtlpRefusal(415, `unsupported compression type: ${contentEncoding}`);
  if (contentType === 'application/x-protobuf') {
    try {
      return { doc: decodeLogsRequestReference(body), json: false };
    } catch (err) {
      throw new OtlpRefusal(400, `failed to parse OTLP request: ${(err as Error).message}`);
    }
  }
  if (contentType === 'application/json') {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new OtlpRefusal(400, `failed to parse OTLP request: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OtlpRefusal(400, 'failed to parse OTLP request: not an ExportLogsServiceRequest object');
    const rl = (doc as { resourceLogs?: unknown }).resourceLogs;
    if (rl !== undefined && !Array.isArray(rl)) throw new OtlpRefusal(400, 'failed to parse OTLP request: resourceLogs must be an array');
    return { doc: doc as { resourceLogs?: unknown[] }, json: true };
  }
  throw new OtlpRefusal(415, `unsupported content type: ${contentType}, only application/x-protobuf and application/json are supported`);
}

export interface OtlpMappingOptions {
  /** Resource attributes promoted to index labels besides the defaults (otlp_config index_label). */
  indexAttributes: string[];
  allowStructuredMetadata: boolean;
  nowNs: bigint;
}

/** An OTLP logs request → Loki entries, each with its stream labels and structured metadata. */
export function otlpToEntries(contentType: string, contentEncoding: string, body: Buffer, o: OtlpMappingOptions): OtlpEntry[] {
  const { doc, json } = decode(contentType, contentEncoding, body);
  const indexed = new Set([...DEFAULT_INDEX_ATTRIBUTES, ...o.indexAttributes]);
  const out: OtlpEntry[] = [];
  for (const rl of (doc.resourceLogs ?? []) as { resource?: { attributes?: KV[] }; scopeLogs?: unknown[] }[]) {
    const labels = new Map<string, string>();
    const resourceMeta: Record<string, string> = {};
    for (const kv of rl.resource?.attributes ?? []) {
      const name = lokiName(kv.key ?? '');
      if (indexed.has(kv.key ?? '')) labels.set(name, asString(kv.value));
      else resourceMeta[name] = asString(kv.value);
    }
    if (!labels.has('service_name')) labels.set('service_name', 'unknown_service');
    for (const sl of (rl.scopeLogs ?? []) as { scope?: { name?: string; version?: string; attributes?: KV[] }; logRecords?: unknown[] }[]) {
      const scopeMeta: Record<string, string> = {};
      if (sl.scope?.name) scopeMeta.scope_name = sl.scope.name;
      if (sl.scope?.version) scopeMeta.scope_version = sl.scope.version;
      for (const kv of sl.scope?.attributes ?? []) scopeMeta[lokiName(kv.key ?? '')] = asString(kv.value);
      for (const lr of (sl.logRecords ?? []) as { timeUnixNano?: unknown; observedTimeUnixNano?: unknown; body?: AnyValue; attributes?: KV[]; severityText?: string; severityNumber?: number | string; traceId?: string; spanId?: string; flags?: number }[]) {
        const metadata: Record<string, string> = { ...resourceMeta, ...scopeMeta };
        for (const kv of lr.attributes ?? []) metadata[lokiName(kv.key ?? '')] = asString(kv.value);
        if (lr.severityText) metadata.severity_text = lr.severityText;
        if (lr.severityNumber) metadata.severity_number = String(lr.severityNumber);
        const trace = hexId(lr.traceId, json);
        if (trace) metadata.trace_id = trace;
        const span = hexId(lr.spanId, json);
        if (span) metadata.span_id = span;
        if (lr.flags) metadata.flags = String(lr.flags);
        if (!o.allowStructuredMetadata && Object.keys(metadata).length) {
          throw new OtlpRefusal(400, 'stream has structured metadata, but this feature is disallowed (limits_config.allow_structured_metadata); Loki refuses the OTLP payload as malformed');
        }
        const ts = nanos(lr.timeUnixNano) || nanos(lr.observedTimeUnixNano) || o.nowNs;
        out.push({ labels, tsNs: ts, line: asString(lr.body), metadata });
      }
    }
  }
  return out;
}
