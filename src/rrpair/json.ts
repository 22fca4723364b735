import type { RRPair } from './types.js';

export class MalformedRecordError extends Error {
  override name = 'MalformedRecordError';
}

/** Parse one raw.jsonl line into an RRPair object, or throw MalformedRecordError saying why. */
export function parseRRPairLine(line: string): RRPair {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new MalformedRecordError(`invalid JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new MalformedRecordError(`expected a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  }
  return v as RRPair;
}

export function stringifyRRPair(rr: RRPair): string {
  return JSON.stringify(rr);
}
