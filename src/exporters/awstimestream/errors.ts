import { PermanentError, RetryableError } from '../../core/errors.js';

export interface SdkError {
  name?: string;
  message?: string;
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

/** The SDK's own base delay for throttling errors (smithy's THROTTLING_RETRY_DELAY_BASE). */
const THROTTLING_DELAY_MS = 500;

/**
 * Whether a failed Timestream call may succeed later: ThrottlingException, InternalServerException,
 * 5xx, a connection error, endpoint discovery failing, a table not (yet) there.
 */
export function isRetryableTimestream(err: SdkError): boolean {
  if (err.$retryable) return true;
  if (['ThrottlingException', 'InternalServerException', 'ResourceNotFoundException', 'InvalidEndpointException', 'ServiceQuotaExceededException'].includes(err.name ?? '')) return true;
  if (/discover endpoint/i.test(err.message ?? '')) return true;
  const s = err.$metadata?.httpStatusCode;
  return s === undefined || s >= 500 || s === 429 || s === 408;
}

export function retryHintMs(err: SdkError): number | undefined {
  for (const [k, v] of Object.entries(err.$response?.headers ?? {})) {
    if (k.toLowerCase() === 'retry-after' && Number.isFinite(Number(v))) return Number(v) * 1000;
  }
  return err.name === 'ThrottlingException' || err.$retryable?.throttling ? THROTTLING_DELAY_MS : undefined;
}

export function classifyTimestream(err: unknown, what: string): Error {
  const e = err as SdkError;
  const msg = `timestream ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
  if (!isRetryableTimestream(e)) return new PermanentError(msg, { cause: err });
  const hint = retryHintMs(e);
  return new RetryableError(msg, { cause: err, ...(hint !== undefined ? { retryAfterMs: hint } : {}) });
}
