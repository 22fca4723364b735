/**
 * Error classes that carry delivery semantics through the pipeline.
 * A receiver turns RetryableError into its protocol's "retry later" answer;
 * an exporter helper retries RetryableError and dead-letters PermanentError.
 */
export class RetryableError extends Error {
  override name = 'RetryableError';
  /** Suggested wait before retrying, in milliseconds. */
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

export class PermanentError extends Error {
  override name = 'PermanentError';
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
  }
}

/** Raised when a stage refuses because it is full (backpressure), e.g. a queue or the memory limiter. */
export class BackpressureError extends RetryableError {
  override name = 'BackpressureError';
}

/** Raised by a stage that is shutting down and takes no new data. */
export class ShutdownError extends RetryableError {
  override name = 'ShutdownError';
}

/** One record of a batch that failed, by its index in the batch. */
export interface ItemFailure {
  index: number;
  reason: string;
  retryable: boolean;
}

/**
 * A batch in which some records were accepted and some were not.
 * Thrown by consumers that can tell per record (bulk APIs).
 */
export class PartialFailureError extends Error {
  override name = 'PartialFailureError';
  constructor(readonly failures: ItemFailure[], message?: string) {
    super(message ?? `${failures.length} record(s) failed`);
  }
  get retryable(): boolean {
    return this.failures.some((f) => f.retryable);
  }
}

const AWS_TRANSIENT = new Set(['RequestTimeout', 'RequestTimeoutException', 'RequestTimeTooSkewed', 'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);

export function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (err instanceof PermanentError) return false;
  if (err instanceof PartialFailureError) return err.retryable;
  // fetch() reports connection failures as `TypeError: fetch failed` with the system error as its cause.
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|UND_ERR_\w+|ABORT_ERR)$/.test(code)) {
      return true;
    }
    if ((e as { name?: unknown }).name === 'AbortError' || (e as { name?: unknown }).name === 'TimeoutError') return true;
  }
  const status = (err as { statusCode?: unknown; status?: unknown; $metadata?: { httpStatusCode?: unknown }; $retryable?: unknown; name?: unknown } | null);
  // AWS SDK v3 errors carry the status in $metadata and mark throttling and transient faults
  // ($retryable, or S3's 400 RequestTimeout); any other 4xx from S3 (InvalidArgument, a refused
  // checksum header) will never succeed on retry.
  if (status?.$retryable || (typeof status?.name === 'string' && AWS_TRANSIENT.has(status.name))) return true;
  const aws = status?.$metadata?.httpStatusCode;
  // Credentials expire and permissions get fixed: a refused signature or role is retried (and
  // dead-lettered after the retry budget), not dropped at once.
  if (typeof aws === 'number') return aws === 401 || aws === 403 || aws === 408 || aws === 429 || aws >= 500;
  const s = typeof status?.statusCode === 'number' ? status.statusCode : typeof status?.status === 'number' ? status.status : undefined;
  if (s !== undefined) return s === 408 || s === 429 || s >= 500;
  // Unknown errors are treated as transient: losing data on a misclassified error is worse than a retry.
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
