import type { Consumer, CreateSettings } from '../../core/component.js';
import { BackpressureError, errorMessage, isRetryable, PartialFailureError, PermanentError } from '../../core/errors.js';
import type { Context } from '../../core/record.js';
import { logsRequestToRecords, OtlpMappingError, type NonRRPairAction } from '../../rrpair/otlp.js';
import type { PartialSuccess } from '../../rrpair/otlp-proto.js';

/** How a request ended, independent of the transport. */
export type Outcome =
  | { ok: true; partial?: PartialSuccess }
  | { ok: false; kind: 'invalid'; reason: string; message: string }
  | { ok: false; kind: 'unauthenticated'; reason: string; message: string }
  | { ok: false; kind: 'too_large'; reason: string; message: string }
  | { ok: false; kind: 'unsupported_media_type'; reason: string; message: string }
  | { ok: false; kind: 'backpressure' | 'unavailable'; reason: string; message: string; retryAfterMs: number };

export type Failure = Extract<Outcome, { ok: false }>;

export const DEFAULT_RETRY_AFTER_MS = 1000;

export function bad(kind: 'invalid' | 'unauthenticated' | 'too_large' | 'unsupported_media_type', reason: string, message: string): Failure {
  return { ok: false, kind, reason, message };
}

/**
 * The part of a request common to gRPC and HTTP: map the decoded ExportLogsServiceRequest to
 * records, hand them to the pipeline, and turn what the pipeline says into an outcome.
 */
export class Ingest {
  private readonly refusedCounter;
  private readonly nonRRPairCounter;

  constructor(
    private readonly s: CreateSettings<{ non_rrpair: NonRRPairAction }>,
    private readonly next: Consumer,
  ) {
    this.refusedCounter = s.metrics.counter('otlp_requests_refused', 'OTLP requests refused before reaching the pipeline (bad input, auth, size), by transport and reason.', ['transport', 'reason']);
    this.nonRRPairCounter = s.metrics.counter('otlp_non_rrpair_records', 'OTLP LogRecords whose body is not an RRPair, by action (drop or keep).', ['action']);
  }

  /** Count a request refused for bad input, auth or size, and log it at debug level. */
  refused(transport: 'grpc' | 'http', f: Failure): Failure {
    this.refusedCounter.inc({ transport, reason: f.reason });
    this.s.logger.debug({ transport, reason: f.reason, err: f.message }, 'otlp request refused');
    return f;
  }

  async deliver(doc: unknown, ctx: Context): Promise<Outcome> {
    let mapped;
    try {
      mapped = logsRequestToRecords(doc, { nonRRPair: this.s.config.non_rrpair });
    } catch (err) {
      if (err instanceof OtlpMappingError) {
        const tooDeep = /deeper/.test(err.message);
        return bad('invalid', tooDeep ? 'too_deep' : 'malformed', err.message);
      }
      throw err;
    }
    if (mapped.nonRRPair > 0) {
      this.nonRRPairCounter.inc({ action: this.s.config.non_rrpair }, mapped.nonRRPair);
      if (mapped.rejected > 0) this.s.metrics.dropped(mapped.rejected, 'not an RRPair');
    }
    if (mapped.invalid > 0) {
      this.s.metrics.dropped(mapped.invalid, 'invalid log record');
      this.s.logger.debug({ records: mapped.invalid, err: mapped.invalidReason }, 'otlp: log records rejected');
    }
    let rejected = mapped.rejected + mapped.invalid;
    const messages: string[] = mapped.rejected ? [`${mapped.rejected} log record(s) dropped: body is not an RRPair (non_rrpair: drop)`] : [];
    if (mapped.invalid) messages.push(`${mapped.invalid} log record(s) rejected: ${mapped.invalidReason}`);
    if (mapped.records.length > 0) {
      try {
        await this.next.consume(mapped.records, ctx);
      } catch (err) {
        if (err instanceof PartialFailureError && !err.retryable) {
          rejected += err.failures.length;
          messages.push(`${err.failures.length} log record(s) refused: ${err.failures[0]?.reason ?? err.message}`);
        } else if (err instanceof PermanentError) {
          return bad('invalid', 'refused_permanently', errorMessage(err));
        } else if (err instanceof PartialFailureError || isRetryable(err)) {
          const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
          const kind = err instanceof BackpressureError ? 'backpressure' : 'unavailable';
          return { ok: false, kind, reason: kind, message: errorMessage(err), retryAfterMs };
        } else {
          return bad('invalid', 'refused_permanently', errorMessage(err));
        }
      }
    }
    return rejected > 0 ? { ok: true, partial: { rejectedLogRecords: rejected, errorMessage: messages.join('; ') } } : { ok: true };
  }
}
