import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples } from '../support/index.js';

/** Every RRPair of the samples, in file order. */
export const SAMPLES: RRPair[] = allSamples();

/** Protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * An AnyValue that is a kvlist nested `depth` levels deep, written byte by byte (no encoder would
 * recurse that deep): sizes from the inside out, bytes from the outside in.
 */
export function deepAnyValue(depth: number): Buffer {
  const inner = [0x0a, 1, 0x78]; // AnyValue.string_value "x"
  const kvLens: number[] = [];
  const listLens: number[] = [];
  let any = inner.length;
  for (let i = 0; i < depth; i++) {
    const kv = 3 + 1 + varint(any).length + any; // key "k", value (2)
    const list = 1 + varint(kv).length + kv; // KeyValueList.values (1)
    kvLens.push(kv);
    listLens.push(list);
    any = 1 + varint(list).length + list; // AnyValue.kvlist_value (6)
  }
  const out: number[] = [];
  const wrap = (tag: number, len: number) => out.push(tag, ...varint(len));
  for (let i = depth - 1; i >= 0; i--) {
    wrap(0x32, listLens[i]!);
    wrap(0x0a, kvLens[i]!);
    out.push(0x0a, 1, 0x6b);
    const innerAny = i === 0 ? inner.length : 1 + varint(listLens[i - 1]!).length + listLens[i - 1]!;
    wrap(0x12, innerAny);
  }
  out.push(...inner);
  return Buffer.from(out);
}

/** A length-delimited protobuf field. */
export function pbField(no: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(body.length)]), body]);
}

/**
 * An ExportLogsServiceRequest with one LogRecord whose body is a kvlist nested `depth` levels
 * deep, or (`where: 'resource'`) whose resource has an attribute that deep.
 */
export function deepKvlistRequest(depth: number, where: 'body' | 'resource' = 'body'): Buffer {
  const any = deepAnyValue(depth);
  const logRecord = where === 'body' ? pbField(5, any) : pbField(5, pbField(1, Buffer.from('x'))); // LogRecord.body
  const scopeLogs = pbField(2, pbField(2, logRecord)); // ResourceLogs.scope_logs → ScopeLogs.log_records
  const resource = where === 'resource' ? pbField(1, pbField(1, Buffer.concat([pbField(1, Buffer.from('k')), pbField(2, any)]))) : Buffer.alloc(0);
  return pbField(1, Buffer.concat([resource, scopeLogs]));
}

/** What the mapping makes of a sample sent with these attributes: where the sample says "undefined", the attribute wins. */
export function expectedRRPair(rr: RRPair, ids: { cluster?: string; namespace?: string; service?: string }): RRPair {
  const out = structuredClone(rr);
  for (const k of ['cluster', 'namespace', 'service'] as const) {
    const v = ids[k];
    if (v !== undefined && (out[k] === undefined || out[k] === '' || out[k] === 'undefined')) out[k] = v;
  }
  return out;
}
