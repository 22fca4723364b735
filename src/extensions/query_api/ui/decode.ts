import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Headers, RRPair } from '../../../core/rrpair.js';
import type { BodyView, RRPairView } from './types.js';

export type { BodyView, RRPairView, SideView } from './types.js';

const MAX_SHOWN = 256 * 1024;
const MAX_INFLATED = 16 * 1024 * 1024;
const MARKER = /REDACTED-[A-Z0-9_]+-[0-9a-f]{8,}/g;

function header(h: Headers | undefined, name: string): string {
  if (!h) return '';
  const k = Object.keys(h).find((n) => n.toLowerCase() === name);
  return k ? (h[k]?.[0] ?? '') : '';
}

function markers(s: string): string[] {
  return [...new Set(s.match(MARKER) ?? [])];
}

export function hexDump(b: Buffer): string {
  const out: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    out.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return out.join('\n');
}

/**
 * Indent XML one element per line. No XML library is a dependency and the view only needs
 * whitespace between tags, so this is a single linear pass over tags and text.
 */
export function prettyXml(s: string): string {
  const out: string[] = [];
  let depth = 0;
  let lastOpened = false; // the last line is an opening tag, so text and its closing tag join it
  for (const tok of s.match(/<[^>]*>|[^<]+/g) ?? []) {
    if (!tok.startsWith('<')) {
      const text = tok.trim();
      if (!text) continue;
      if (lastOpened && out.length) out[out.length - 1] += text;
      else out.push('  '.repeat(depth) + text);
      continue;
    }
    if (tok.startsWith('</')) {
      depth = Math.max(0, depth - 1);
      if (lastOpened && out.length) out[out.length - 1] += tok;
      else out.push('  '.repeat(depth) + tok);
      lastOpened = false;
      continue;
    }
    out.push('  '.repeat(depth) + tok);
    lastOpened = !tok.startsWith('<?') && !tok.startsWith('<!') && !tok.endsWith('/>');
    if (lastOpened) depth++;
  }
  return out.join('\n');
}

function isText(b: Buffer): boolean {
  const s = b.subarray(0, 4096);
  let ctrl = 0;
  for (const x of s) if (x < 0x09 || (x > 0x0d && x < 0x20) || x === 0x7f) ctrl++;
  if (ctrl > 0) return false;
  return !b.subarray(0, MAX_SHOWN).toString('utf8').includes('\uFFFD');
}

export function decodeBody(bodyBase64: string | undefined, headers: Headers | undefined, contentTypeHint = ''): BodyView {
  const contentType = header(headers, 'content-type') || contentTypeHint;
  const view: BodyView = { decoded: [], kind: 'empty', content_type: contentType, size: 0, text: '', truncated: false, redactions: [] };
  if (!bodyBase64) return view;
  let b = Buffer.from(bodyBase64, 'base64');
  view.decoded.push('base64');
  const enc = header(headers, 'content-encoding').toLowerCase().trim();
  try {
    // Some recorders store the body already decoded but keep the header: inflate only what is compressed.
    if (enc === 'gzip' && b[0] === 0x1f && b[1] === 0x8b) {
      b = gunzipSync(b, { maxOutputLength: MAX_INFLATED });
      view.decoded.push('gzip');
    } else if (enc === 'deflate' && b.length > 1 && (b[0]! & 0x0f) === 8) {
      b = inflateSync(b, { maxOutputLength: MAX_INFLATED });
      view.decoded.push('deflate');
    } else if (enc === 'br') {
      b = brotliDecompressSync(b, { maxOutputLength: MAX_INFLATED });
      view.decoded.push('br');
    }
  } catch (err) {
    view.error = `could not decode ${enc}: ${(err as Error).message}`;
  }
  view.size = b.length;
  const shown = b.subarray(0, MAX_SHOWN);
  view.truncated = b.length > MAX_SHOWN;
  if (!isText(b)) {
    view.kind = 'binary';
    view.text = hexDump(shown.subarray(0, 64 * 1024));
    view.truncated = b.length > 64 * 1024;
    return view;
  }
  const s = shown.toString('utf8');
  view.redactions = markers(s);
  const ct = contentType.toLowerCase();
  const t = s.trimStart();
  if (ct.includes('json') || ((t.startsWith('{') || t.startsWith('[')) && !view.truncated)) {
    try {
      view.text = JSON.stringify(JSON.parse(s), null, 2);
      view.kind = 'json';
      return view;
    } catch {
      /* not JSON after all: shown as text */
    }
  }
  if (ct.includes('x-www-form-urlencoded')) {
    view.kind = 'form';
    view.text = [...new URLSearchParams(s)].map(([k, v]) => `${k} = ${v}`).join('\n');
    return view;
  }
  if (ct.includes('xml') || (t.startsWith('<') && !ct.includes('html'))) {
    view.kind = 'xml';
    view.text = prettyXml(s);
    return view;
  }
  view.kind = 'text';
  view.text = s;
  return view;
}

function headerList(h: Headers | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, vs] of Object.entries(h ?? {})) for (const v of Array.isArray(vs) ? vs : [String(vs)]) out.push([k, String(v)]);
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

export function viewOf(id: string, rr: RRPair): RRPairView {
  const req = rr.http?.req;
  const res = rr.http?.res;
  return {
    id,
    ts: str(rr.ts),
    duration_ms: typeof rr.duration === 'number' ? rr.duration : undefined,
    direction: str(rr.direction),
    service: str(rr.service),
    namespace: str(rr.namespace),
    cluster: str(rr.cluster),
    l7protocol: str(rr.l7protocol),
    tech: str(rr.tech),
    network_address: str(rr.network_address),
    command: str(rr.command),
    location: str(rr.location),
    status: str(rr.status),
    ...(req ? { request: { line: `${str(req.method)} ${str(req.url ?? req.uri)} ${req.version ? `HTTP/${str(req.version)}` : ''}`.trim(), headers: headerList(req.headers), body: decodeBody(req.bodyBase64, req.headers) } } : {}),
    ...(res ? { response: { line: str(res.statusMessage).startsWith(String(res.statusCode ?? '')) && res.statusMessage ? str(res.statusMessage) : `${res.statusCode ?? ''} ${str(res.statusMessage)}`.trim(), headers: headerList(res.headers), body: decodeBody(res.bodyBase64, res.headers, str(res.contentType)) } } : {}),
    tokens: Array.isArray(rr.tokenList) ? rr.tokenList : Array.isArray(rr.tokens) ? rr.tokens : [],
    redactions: markers(JSON.stringify(rr)),
    dlp: { modified: rr.dlpModified === true, ...(rr.dlpRule ? { rule: rr.dlpRule } : {}) },
    tags: Object.fromEntries(Object.entries(rr.tags ?? {}).map(([k, v]) => [k, str(v)])),
  };
}
