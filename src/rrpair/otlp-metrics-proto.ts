import protobuf from 'protobufjs';
import type { MetricPoint } from '../core/metric.js';
import { PROTO_SOURCES } from './otlp-proto-defs.js';
import { METRICS_PROTO_SOURCES } from './otlp-metrics-proto-defs.js';
import { checkWireStructure, MAX_MESSAGE_DEPTH, OtlpDecodeError } from './otlp-proto.js';
import { pointsToMetricsRequest } from './otlp-metrics.js';

/**
 * Protobuf codec for OTLP metrics (ExportMetricsServiceRequest / Response), shared by the otlp
 * receiver and the otlp / otlphttp exporters; protobufjs over the vendored definitions. Decoding
 * yields the OTLP/JSON shape, so one mapping (otlp-metrics.ts) serves protobuf and JSON bodies.
 */

const root = new protobuf.Root();
for (const src of [...PROTO_SOURCES, ...METRICS_PROTO_SOURCES]) protobuf.parse(src, root, { keepCase: false });
root.resolveAll();

const T = {
  request: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
  response: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
};

export const METRICS_SERVICE_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** Request → resource → scope → metric → data → data point → exemplar: four levels more than a log record before its attributes. */
const MAX_METRICS_DEPTH = MAX_MESSAGE_DEPTH + 4;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, bytes: String, enums: Number, defaults: false };

/** ExportMetricsServiceRequest bytes → the OTLP/JSON shape; the wire structure is checked first (bounded depth, no read past the end). */
export function decodeMetricsRequest(buf: Uint8Array): { resourceMetrics?: unknown[] } {
  checkWireStructure(buf, T.request, MAX_METRICS_DEPTH);
  let msg: protobuf.Message;
  try {
    msg = T.request.decode(buf);
  } catch (err) {
    throw new OtlpDecodeError(`protobuf: ${(err as Error).message}`, 'malformed');
  }
  return T.request.toObject(msg, TO_OBJECT) as { resourceMetrics?: unknown[] };
}

/** MetricPoints → ExportMetricsServiceRequest bytes. */
export function encodeMetricPoints(points: readonly MetricPoint[]): Uint8Array {
  return T.request.encode(T.request.fromObject(pointsToMetricsRequest(points))).finish();
}

/** The OTLP metrics partial success: data points the server refused. */
export interface MetricsPartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

export function encodeMetricsResponse(partial?: MetricsPartialSuccess): Uint8Array {
  if (!partial || (partial.rejectedDataPoints === 0 && !partial.errorMessage)) return new Uint8Array(0);
  return T.response.encode(T.response.fromObject({ partialSuccess: partial })).finish();
}

/** The response in OTLP/JSON (int64 as a decimal string). */
export function metricsResponseJson(partial?: MetricsPartialSuccess): string {
  return JSON.stringify(partial ? { partialSuccess: { rejectedDataPoints: String(partial.rejectedDataPoints), errorMessage: partial.errorMessage } } : {});
}

/** The partial success of a response, protobuf bytes or a parsed OTLP/JSON body. */
export function metricsPartialOf(body: Uint8Array | object): MetricsPartialSuccess | undefined {
  const o = body instanceof Uint8Array
    ? (body.length === 0 ? {} : T.response.toObject(T.response.decode(body), TO_OBJECT))
    : body;
  const p = (o as { partialSuccess?: { rejectedDataPoints?: string | number; errorMessage?: string } }).partialSuccess;
  if (!p) return undefined;
  const n = Number(p.rejectedDataPoints ?? 0);
  if (n === 0 && !p.errorMessage) return undefined;
  return { rejectedDataPoints: n, errorMessage: p.errorMessage ?? '' };
}
