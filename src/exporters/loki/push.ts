import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { LokiStream } from './convert.js';

/**
 * Loki's push API bodies. Protobuf: logproto.PushRequest (Loki's pkg/push/push.proto; field names
 * and numbers unchanged, gogoproto options dropped), compressed with snappy's block format, as
 * Loki's distributor reads `application/x-protobuf` and as the contrib exporter sends it
 * (proto.Marshal, then snappy.Encode). JSON: the documented `{"streams":[{"stream":{…},
 * "values":[["<ns>","<line>"]]}]}` form.
 */
const PUSH_PROTO = `syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;
const LOGPROTO = `syntax = "proto3";
package logproto;
message PushRequest { repeated StreamAdapter streams = 1; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
message EntryAdapter {
  google.protobuf.Timestamp timestamp = 1;
  string line = 2;
  repeated LabelPairAdapter structuredMetadata = 3;
}
`;

const root = new protobuf.Root();
protobuf.parse(PUSH_PROTO, root, { keepCase: true });
protobuf.parse(LOGPROTO, root, { keepCase: true });
root.resolveAll();
const PushRequest = root.lookupType('logproto.PushRequest');

export const PUSH_PATH = '/loki/api/v1/push';

const NS = 1_000_000_000n;

/** The protobuf PushRequest of these streams, snappy-compressed (block format). */
export function encodeProtobufPush(streams: readonly LokiStream[]): Buffer {
  const msg = {
    streams: streams.map((s) => ({
      labels: s.labels,
      entries: s.entries.map((e) => ({
        timestamp: { seconds: Number(e.tsNs / NS), nanos: Number(e.tsNs % NS) },
        line: e.line,
      })),
    })),
  };
  const raw = PushRequest.encode(msg).finish();
  return Buffer.from(snappy.compress(raw));
}

/** The JSON push body of these streams. */
export function encodeJsonPush(streams: readonly LokiStream[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      streams: streams.map((s) => ({ stream: s.labelMap, values: s.entries.map((e) => [e.tsNs.toString(), e.line]) })),
    }),
  );
}
