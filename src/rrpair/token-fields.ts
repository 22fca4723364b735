import { bodyKind, contentTypeOf, decodeBody, encodeBody, utf8OrUndefined } from './body.js';
import type { Headers, RRPair } from './types.js';

type Mapper = (s: string, where: { location: string; json: boolean }) => string;

/**
 * Apply fn to every string field a token can live in: header values, url/uri/location, query
 * parameters and decoded bodies (JSON bodies flagged, so a bare number can be handled).
 * Bodies are re-encoded (same compression) only when they changed.
 */
export function mapFields(rr: RRPair, fn: Mapper, maxBodyBytes = 16 << 20): void {
  if (typeof rr.location === 'string') rr.location = fn(rr.location, { location: 'location', json: false });
  const http = rr.http;
  if (!http || typeof http !== 'object') return;
  for (const side of ['req', 'res'] as const) {
    const part = http[side];
    if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
    const base = `http.${side}`;
    mapHeaders(part.headers, `${base}.headers`, fn);
    if (side === 'req') {
      for (const f of ['url', 'uri'] as const) if (typeof part[f] === 'string') part[f] = fn(part[f] as string, { location: `${base}.${f}`, json: false });
      mapHeaders(part.queryParams, `${base}.queryParams`, fn);
    }
    if (typeof part.bodyBase64 === 'string' && part.bodyBase64 !== '') {
      const dec = decodeBody(part.bodyBase64, part.headers as Headers | undefined, maxBodyBytes);
      if (!dec.ok) continue;
      const text = utf8OrUndefined(dec.bytes);
      if (text === undefined) continue;
      const json = bodyKind(contentTypeOf(part), text) === 'json';
      const out = fn(text, { location: `${base}.body`, json });
      if (out !== text) part.bodyBase64 = encodeBody(Buffer.from(out, 'utf8'), dec.encoding);
    }
  }
}

function mapHeaders(h: unknown, base: string, fn: Mapper): void {
  if (!h || typeof h !== 'object' || Array.isArray(h)) return;
  const o = h as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (Array.isArray(v)) o[k] = v.map((x, i) => (typeof x === 'string' ? fn(x, { location: `${base}.${k}.${i}`, json: false }) : x));
  }
}
