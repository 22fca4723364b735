export type { Headers, HttpRequest, HttpResponse, RRPair } from '../core/rrpair.js';
import type { RRPair } from '../core/rrpair.js';

/** The fields whose value "undefined" (a recorder's placeholder) means "not known". */
export const IDENTITY_FIELDS = ['cluster', 'namespace', 'service'] as const;

export function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 'undefined';
}

export function isRRPairObject(v: unknown): v is RRPair {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
