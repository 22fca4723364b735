import type { Consumer, CreateSettings } from '../../core/component.js';
import type { MetricPoint, Signal } from '../../core/metric.js';
import { BackpressureError, errorMessage, isRetryable, PartialFailureError } from '../../core/errors.js';
import type { Context } from '../../core/record.js';
import { OtlpMappingError } from '../../rrpair/otlp.js';
import { decodeLogsRequest, encodeLogsResponse, LOGS_SERVICE_EXPORT_PATH, type PartialSuccess } from '../../rrpair/otlp-proto.js';
import { metricsRequestToPoints } from '../../rrpair/otlp-metrics.js';
import { decodeMetricsRequest, encodeMetricsResponse, METRICS_SERVICE_EXPORT_PATH, metricsResponseJson } from '../../rrpair/otlp-metrics-proto.js';
import { bad, DEFAULT_RETRY_AFTER_MS, type Ingest, type Outcome } from './ingest.js';

/**
 * What differs between the signals a transport serves: how a request body decodes, where its
 * items go, and how the answer is written. `partial` counts the request's refused items (log
 * records or data points) whatever the signal; each codec writes it in its own response message.
 */
export interface SignalCodec {
  signal: Signal;
  grpcPath: string;
  decodeProto(buf: Uint8Array): unknown;
  deliver(doc: unknown, ctx: Context): Promise<Outcome>;
  protoResponse(partial?: PartialSuccess): Uint8Array;
  jsonResponse(partial?: PartialSuccess): string;
}

export function logsCodec(ingest: Ingest): SignalCodec {
  return {
    signal: 'logs',
    grpcPath: LOGS_SERVICE_EXPORT_PATH,
    decodeProto: decodeLogsRequest,
    deliver: (doc, ctx) => ingest.deliver(doc, ctx),
    protoResponse: encodeLogsResponse,
    jsonResponse: (p) => JSON.stringify(p ? { partialSuccess: { rejectedLogRecords: String(p.rejectedLogRecords), errorMessage: p.errorMessage } } : {}),
  };
}

/**
 * OTLP metrics into the metrics pipelines: an ExportMetricsServiceRequest becomes MetricPoints;
 * data points that cannot be one (summaries, no temporality, inconsistent buckets) are refused
 * in the partial-success answer and counted; the rest are handed on and the pipeline's answer
 * becomes the protocol's (backpressure → retry, permanent → 400 / INVALID_ARGUMENT).
 */
export function metricsCodec(s: CreateSettings<unknown>, next: Consumer<MetricPoint>): SignalCodec {
  const rejectedCounter = s.metrics.counter('otlp_metric_points_rejected', 'OTLP metric data points refused in a partial-success answer (summary, unspecified temporality, inconsistent buckets).');
  const partial = (n: number, messages: string[]): PartialSuccess | undefined => (n > 0 ? { rejectedLogRecords: n, errorMessage: messages.join('; ') } : undefined);
  return {
    signal: 'metrics',
    grpcPath: METRICS_SERVICE_EXPORT_PATH,
    decodeProto: decodeMetricsRequest,
    protoResponse: (p) => encodeMetricsResponse(p && { rejectedDataPoints: p.rejectedLogRecords, errorMessage: p.errorMessage }),
    jsonResponse: (p) => metricsResponseJson(p && { rejectedDataPoints: p.rejectedLogRecords, errorMessage: p.errorMessage }),
    async deliver(doc, ctx) {
      let mapped;
      try {
        mapped = metricsRequestToPoints(doc);
      } catch (err) {
        if (err instanceof OtlpMappingError) return bad('invalid', /deeper/.test(err.message) ? 'too_deep' : 'malformed', err.message);
        throw err;
      }
      let rejected = mapped.rejected;
      const messages = [...mapped.reasons];
      if (rejected > 0) {
        rejectedCounter.inc({}, rejected);
        s.metrics.dropped(rejected, 'unsupported data point');
      }
      if (mapped.points.length > 0) {
        try {
          await next.consume(mapped.points, ctx);
        } catch (err) {
          if (err instanceof PartialFailureError && !err.retryable) {
            rejected += err.failures.length;
            messages.push(`${err.failures.length} data point(s) refused: ${err.failures[0]?.reason ?? err.message}`);
          } else if (isRetryable(err)) {
            const kind = err instanceof BackpressureError ? 'backpressure' : 'unavailable';
            return { ok: false, kind, reason: kind, message: errorMessage(err), retryAfterMs: (err as { retryAfterMs?: number }).retryAfterMs ?? DEFAULT_RETRY_AFTER_MS };
          } else {
            return bad('invalid', 'refused_permanently', errorMessage(err));
          }
        }
      }
      const p = partial(rejected, messages);
      return p ? { ok: true, partial: p } : { ok: true };
    },
  };
}
