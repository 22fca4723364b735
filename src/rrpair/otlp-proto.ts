import protobuf from 'protobufjs';
import { MAX_DEPTH, OtlpMappingError, recordsToOtlpJson } from './otlp.js';
import { PROTO_SOURCES } from './otlp-proto-defs.js';
import { readLogsRequest, WireError } from './otlp-wire.js';

/**
 * Protobuf codec for OTLP logs (ExportLogsServiceRequest / Response) and the google.rpc status
 * details, shared by the otlp receiver and the otlp / otlphttp exporters. Built on protobufjs with
 * the vendored opentelemetry-proto definitions.
 *
 * Decoding yields the OTLP/JSON shape (lowerCamelCase, int64 as decimal strings, bytes as base64),
 * the same shape `otlpJsonToRecords` reads from an OTLP/JSON body, so one mapping serves both.
 */

const root = new protobuf.Root();
for (const src of PROTO_SOURCES) protobuf.parse(src, root, { keepCase: false });
root.resolveAll();

const T = {
  request: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
  response: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
  status: root.lookupType('google.rpc.Status'),
  retryInfo: root.lookupType('google.rpc.RetryInfo'),
};

export const LOGS_SERVICE_EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * Deepest message nesting accepted: request → resource logs → scope logs → log record → body,
 * then up to three messages (AnyValue, KeyValueList, KeyValue) per level of MAX_DEPTH.
 */
export const MAX_MESSAGE_DEPTH = 5 + 3 * (MAX_DEPTH + 1);

export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
  constructor(message: string, readonly reason: 'malformed' | 'too_deep' | 'invalid_utf8') {
    super(message);
  }
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, bytes: String, enums: Number, defaults: false };

/**
 * Walks the wire format without recursion to check that every length-delimited field fits in its
 * parent and that messages nest no deeper than `maxDepth`, so the (recursive) decoder that runs
 * afterwards can neither overflow the stack nor read past the end.
 */
export function checkWireStructure(buf: Uint8Array, type: protobuf.Type, maxDepth = MAX_MESSAGE_DEPTH): void {
  const r = protobuf.Reader.create(buf);
  const stack: { type: protobuf.Type; end: number }[] = [{ type, end: buf.length }];
  try {
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (r.pos >= top.end) {
        if (r.pos > top.end) throw new OtlpDecodeError('protobuf: a field runs past the end of its message', 'malformed');
        stack.pop();
        continue;
      }
      const tag = r.uint32();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 0) throw new OtlpDecodeError('protobuf: invalid field number 0', 'malformed');
      if (wt === 2) {
        const len = r.uint32();
        const end = r.pos + len;
        if (end > top.end) throw new OtlpDecodeError('protobuf: truncated message (a length runs past the end)', 'malformed');
        const f = top.type.fieldsById[field];
        const sub = f && !f.map && f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
        if (sub) {
          if (stack.length >= maxDepth) {
            throw new OtlpDecodeError(`protobuf: messages nested deeper than ${maxDepth} levels (an AnyValue deeper than ${MAX_DEPTH})`, 'too_deep');
          }
          stack.push({ type: sub, end });
        } else {
          r.skip(len);
        }
      } else if (wt === 3 || wt === 4) {
        throw new OtlpDecodeError('protobuf: groups are not used by OTLP', 'malformed');
      } else {
        r.skipType(wt);
      }
    }
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    throw new OtlpDecodeError(`protobuf: ${(err as Error).message || 'malformed input'}`, 'malformed');
  }
}

/**
 * ExportLogsServiceRequest bytes → OTLP/JSON-shaped object ({ resourceLogs: [...] }), read in
 * one pass by otlp-wire.ts (bounded depth, no read past the end).
 */
export function decodeLogsRequest(buf: Uint8Array): { resourceLogs?: unknown[] } {
  try {
    return readLogsRequest(buf, MAX_MESSAGE_DEPTH);
  } catch (err) {
    if (err instanceof WireError) throw new OtlpDecodeError(err.message, err.reason);
    throw new OtlpDecodeError(`protobuf: ${(err as Error).message || 'malformed input'}`, 'malformed');
  }
}

/** The same through protobufjs (decode, then toObject): the reference decodeLogsRequest is tested against. */
export function decodeLogsRequestReference(buf: Uint8Array): { resourceLogs?: unknown[] } {
  checkWireStructure(buf, T.request);
  let msg: protobuf.Message;
  try {
    msg = T.request.decode(buf);
  } catch (err) {
    throw new OtlpDecodeError(`protobuf: ${(err as Error).message}`, 'malformed');
  }
  return T.request.toObject(msg, TO_OBJECT) as { resourceLogs?: unknown[] };
}

/** OTLP/JSON-shaped request object → ExportLogsServiceRequest bytes. */
export function encodeLogsRequest(doc: object): Uint8Array {
  return T.request.encode(T.request.fromObject(doc)).finish();
}

export interface PartialSuccess {
  rejectedLogRecords: number;
  errorMessage: string;
}

export function encodeLogsResponse(partial?: PartialSuccess): Uint8Array {
  if (!partial || (partial.rejectedLogRecords === 0 && !partial.errorMessage)) return new Uint8Array(0);
  return T.response.encode(T.response.fromObject({ partialSuccess: { rejectedLogRecords: partial.rejectedLogRecords, errorMessage: partial.errorMessage } })).finish();
}

export function decodeLogsResponse(buf: Uint8Array): PartialSuccess | undefined {
  if (buf.length === 0) return undefined;
  const o = T.response.toObject(T.response.decode(buf), TO_OBJECT) as { partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string } };
  return partialOf(o);
}

/** Partial success from an OTLP/JSON response body (int64 as string or number). */
export function partialOf(o: unknown): PartialSuccess | undefined {
  const p = (o as { partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string } } | null)?.partialSuccess;
  if (!p) return undefined;
  const n = Number(p.rejectedLogRecords ?? 0);
  if (n === 0 && !p.errorMessage) return undefined;
  return { rejectedLogRecords: n, errorMessage: p.errorMessage ?? '' };
}

/** A google.rpc.Status without details (the body of an OTLP/HTTP error response). */
export function statusMessage(code: number, message: string): Uint8Array {
  return T.status.encode(T.status.fromObject({ code, message })).finish();
}

/** The message of a google.rpc.Status body, if it is one. */
export function decodeStatusMessage(buf: Uint8Array): string | undefined {
  try {
    return (T.status.decode(buf) as unknown as { message?: string }).message || undefined;
  } catch {
    return undefined;
  }
}

/** A google.rpc.Status (the gRPC `grpc-status-details-bin` trailer) carrying a RetryInfo. */
export function encodeStatusWithRetry(code: number, message: string, retryAfterMs: number): Uint8Array {
  const seconds = Math.floor(retryAfterMs / 1000);
  const nanos = Math.round((retryAfterMs % 1000) * 1e6);
  const retry = T.retryInfo.encode(T.retryInfo.fromObject({ retryDelay: { seconds, nanos } })).finish();
  return T.status.encode(T.status.fromObject({ code, message, details: [{ typeUrl: RETRY_INFO_TYPE_URL, value: retry }] })).finish();
}

/** The RetryInfo delay in a google.rpc.Status, in milliseconds, if there is one. */
export function retryDelayOfStatus(buf: Uint8Array): number | undefined {
  try {
    const st = T.status.decode(buf) as unknown as { details?: { typeUrl: string; value: Uint8Array }[] };
    for (const d of st.details ?? []) {
      if (d.typeUrl !== RETRY_INFO_TYPE_URL) continue;
      const ri = T.retryInfo.toObject(T.retryInfo.decode(d.value), { longs: Number }) as { retryDelay?: { seconds?: number; nanos?: number } };
      if (!ri.retryDelay) return undefined;
      return (ri.retryDelay.seconds ?? 0) * 1000 + Math.round((ri.retryDelay.nanos ?? 0) / 1e6);
    }
  } catch {
    // Not a google.rpc.Status: no hint.
  }
  return undefined;
}

export { OtlpMappingError };

/** A batch of records as ExportLogsServiceRequest bytes, shaped as the Speedscale forwarder sends them. */
export function encodeRecords(batch: import('../core/record.js').RRRecord[], scopeName = 'rrpipe'): Uint8Array {
  return encodeLogsRequest(recordsToOtlpJson(batch, scopeName));
}
