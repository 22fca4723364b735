import type { Pass } from '../pass.js';
import { DROP, safeDecode } from './out.js';

const SCHEME_AND_HOST = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(.*)$/i;

/** A URL or path: every path segment through the detectors, every query parameter as a field. */
export function walkUrl(p: Pass, u: string, path: string): string {
  const hashAt = u.indexOf('#');
  const frag = hashAt >= 0 ? u.slice(hashAt) : '';
  const noFrag = hashAt >= 0 ? u.slice(0, hashAt) : u;
  const qAt = noFrag.indexOf('?');
  const pathPart = qAt >= 0 ? noFrag.slice(0, qAt) : noFrag;
  const q = qAt >= 0 ? noFrag.slice(qAt + 1) : undefined;
  // only a URL starting with a letter can have a scheme (most are a path: no regex run)
  const c0 = pathPart.charCodeAt(0) | 32;
  const m = c0 >= 97 && c0 <= 122 ? SCHEME_AND_HOST.exec(pathPart) : null;
  const origin = m ? m[1]! : '';
  const segPath = `${path}.path`;
  const segs = (m ? m[2]! : pathPart).split('/').map((seg) => {
    if (!seg) return seg;
    let dec = seg;
    if (seg.includes('%')) {
      try {
        dec = decodeURIComponent(seg);
      } catch {
        /* keep */
      }
    }
    const out = p.text(dec, segPath, false);
    return out === dec ? seg : encodeURIComponent(out);
  });
  const query = q === undefined ? '' : '?' + walkForm(p, q, `${path}.query`);
  return origin + segs.join('/') + query + frag;
}

/** application/x-www-form-urlencoded (also a query string): each field by its name. */
export function walkForm(p: Pass, s: string, path: string): string {
  return s
    .split('&')
    .flatMap((pair) => {
      if (!pair) return [pair];
      const eq = pair.indexOf('=');
      const rawK = eq < 0 ? pair : pair.slice(0, eq);
      const rawV = eq < 0 ? '' : pair.slice(eq + 1);
      const k = safeDecode(rawK);
      const v = safeDecode(rawV);
      const out = eq < 0 ? p.text(k, `${path}.${k}`, false) : p.value(v, k, `${path}.${k}`);
      if (out === DROP) return [];
      if (eq < 0) return [out === k ? pair : encodeURIComponent(out)];
      return [out === v ? pair : `${rawK}=${encodeURIComponent(out)}`];
    })
    .join('&');
}
