/**
 * A bound on the request bytes (decompressed) an OTLP receiver holds at once, shared by its gRPC
 * and HTTP servers: without one, 16 concurrent 18 MB requests took the daemon to 2.6 GB. A
 * request that would go over the bound while others are in flight is refused as backpressure
 * (HTTP 429 / RESOURCE_EXHAUSTED, with a retry hint), which OTLP clients retry; a request alone
 * is always admitted (max_request_body_size / max_recv_msg_size_mib still cap it). The key
 * follows the OTel Collector's otelarrow receiver (`admission.request_limit_mib`).
 */
export class Admission {
  private inflight = 0;

  constructor(private readonly limitBytes: number) {}

  /** Bytes held by admitted requests now. */
  get bytes(): number {
    return this.inflight;
  }

  ticket(): AdmissionTicket {
    return new AdmissionTicket(this);
  }

  /** @internal */
  grow(t: AdmissionTicket, n: number): boolean {
    const others = this.inflight - t.held;
    if (n > 0 && this.limitBytes > 0 && others > 0 && this.inflight + n > this.limitBytes) return false;
    this.inflight += n;
    return true;
  }

  /** @internal */
  shrink(n: number): void {
    this.inflight -= n;
  }
}

/** One request's share of the bound: grown as its size becomes known, released when it is answered. */
export class AdmissionTicket {
  held = 0;

  constructor(private readonly a: Admission) {}

  /** Hold up to n bytes in all; false (nothing changed) when that would go over the bound. */
  holdUpTo(n: number): boolean {
    const more = n - this.held;
    if (more <= 0) return true;
    if (!this.a.grow(this, more)) return false;
    this.held = n;
    return true;
  }

  release(): void {
    this.a.shrink(this.held);
    this.held = 0;
  }
}

export function admissionRefusal(limitBytes: number): { ok: false; kind: 'backpressure'; reason: string; message: string; retryAfterMs: number } {
  return {
    ok: false,
    kind: 'backpressure',
    reason: 'admission_limit',
    message: `too much request data in flight (admission.request_limit_mib: ${Math.round(limitBytes / 1048576)} MiB); retry later`,
    retryAfterMs: 1000,
  };
}
