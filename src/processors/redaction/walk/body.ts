import { bodyKind, contentTypeOf, decodeBody, type DecodedBody, encodeBody, jsonIndent, looksLikeText, utf8OrUndefined, type BodyKind } from '../../../rrpair/body.js';
import type { Headers } from '../../../rrpair/types.js';
import type { Pass } from '../pass.js';
import { walkJson } from './json.js';
import { DROP, isHeaders } from './out.js';
import { walkForm } from './url.js';
import { walkXml } from './xml.js';

type Part = { bodyBase64?: unknown; headers?: Headers; contentType?: unknown };

/** A body in bodyBase64: decoded, redacted by content type, written back the same way only when changed. */
export function walkBody(p: Pass, part: Part, path: string): void {
  const b64 = part.bodyBase64;
  if (b64 === undefined || b64 === null || b64 === '') return;
  if (typeof b64 !== 'string') {
    // a body of the wrong type cannot be decoded: replaced whole
    part.bodyBase64 = replaceBody(p, JSON.stringify(b64), path, 'invalid_type');
    return;
  }
  const headers = isHeaders(part.headers) ? part.headers : undefined;
  const pre = p.inflated?.get(part);
  // gunzipped ahead only when decodeBody would gunzip it whole, to the same bytes
  const dec: DecodedBody = pre && pre.b64 === b64 ? { ok: true, bytes: pre.bytes, encoding: 'gzip' } : decodeBody(b64, headers, p.r.opts.max_body_size);
  if (!dec.ok) {
    if (dec.reason === 'decompress_failed') {
      const raw = Buffer.from(b64, 'base64');
      const out = p.text(raw.toString('latin1'), `${path}.text`);
      part.bodyBase64 = Buffer.from(out, 'latin1').toString('base64');
      return;
    }
    if (dec.reason === 'too_large' && p.r.opts.oversize_body === 'drop') {
      p.bodiesReplaced.push({ path, reason: dec.reason });
      p.findings.push({ path, category: 'BODY' });
      delete part.bodyBase64;
    } else {
      part.bodyBase64 = replaceBody(p, b64, path, dec.reason);
    }
    setContentLength(part, headers);
    return;
  }
  const utf8 = utf8OrUndefined(dec.bytes);
  const text = utf8 ?? dec.bytes.toString('latin1');
  const ct = contentTypeOf(part);
  const out = walkBodyText(p, text, bodyKind(ct, utf8), ct ?? '', path);
  if (out === text) return;
  const bytes = Buffer.from(out, utf8 !== undefined ? 'utf8' : 'latin1');
  part.bodyBase64 = encodeBody(bytes, dec.encoding);
  setContentLength(part, headers);
}

function replaceBody(p: Pass, original: string, path: string, reason: string): string {
  p.bodiesReplaced.push({ path, reason });
  p.findings.push({ path, category: 'BODY' });
  return Buffer.from(p.r.token(original, 'BODY', p.r.opts.action === 'hash' ? 'hash' : 'mask')).toString('base64');
}

function setContentLength(part: { bodyBase64?: unknown }, headers: Headers | undefined): void {
  if (!headers) return;
  const name = Object.keys(headers).find((k) => k.toLowerCase() === 'content-length');
  if (!name) return;
  const len = typeof part.bodyBase64 === 'string' ? Buffer.from(part.bodyBase64, 'base64').length : 0;
  headers[name] = [String(len)];
}

/** Decoded body text by its kind. Returns the same string when nothing was found. */
export function walkBodyText(p: Pass, text: string, kind: BodyKind, contentType: string, path: string): string {
  switch (kind) {
    case 'json': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return p.text(text, `${path}.text`);
      }
      const before = p.findings.length;
      const out = walkJson(p, v, `${path}.json`, [], undefined);
      if (p.findings.length === before) return text;
      return JSON.stringify(out === DROP ? null : out, null, jsonIndent(text)) + (text.endsWith('\n') ? '\n' : '');
    }
    case 'ndjson':
      return text
        .split('\n')
        .map((line, i) => (line.trim() ? walkBodyText(p, line, 'json', '', `${path}.${i}`) : line))
        .join('\n');
    case 'form':
      return walkForm(p, text, `${path}.form`);
    case 'multipart':
      return walkMultipart(p, text, contentType, path);
    case 'xml':
      return walkXml(p, text, `${path}.xml`);
    default:
      return p.text(text, `${path}.text`);
  }
}

/** multipart/*: each part by its name and its own content type. */
function walkMultipart(p: Pass, text: string, contentType: string, path: string): string {
  const bm = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = bm?.[1] ?? bm?.[2];
  if (!boundary) return p.text(text, `${path}.text`);
  const delim = `--${boundary}`;
  const chunks = text.split(delim);
  for (let i = 1; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.startsWith('--')) continue;
    const sep = c.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
    const hEnd = c.indexOf(sep);
    if (hEnd < 0) {
      chunks[i] = p.text(c, `${path}.multipart`);
      continue;
    }
    const head = c.slice(0, hEnd);
    const tail = /\r?\n$/.exec(c.slice(hEnd + sep.length))?.[0] ?? '';
    const content = c.slice(hEnd + sep.length, c.length - tail.length);
    const name = /name="([^"]*)"/i.exec(head)?.[1] ?? String(i);
    const ct = /^content-type:\s*([^\r\n]+)/im.exec(head)?.[1] ?? 'text/plain';
    const ppath = `${path}.multipart.${name}`;
    let out: string;
    const rule = p.r.keyAllowed(name) ? undefined : p.r.pathRule(ppath) ?? p.r.keyRule(name);
    if (rule) {
      const w = p.whole(content, ppath, rule);
      out = w === DROP ? '' : w;
    } else {
      const bytes = Buffer.from(content, 'latin1');
      const asUtf8 = looksLikeText(bytes) ? utf8OrUndefined(bytes) : undefined;
      if (asUtf8 !== undefined) {
        const kind = bodyKind(ct, asUtf8);
        // an octet-stream upload that is text (a .jsonl file) is still read
        const r = walkBodyText(p, asUtf8, kind === 'text' && /^\s*[{[]/.test(asUtf8) ? 'ndjson' : kind, ct, ppath);
        out = r === asUtf8 ? content : Buffer.from(r, 'utf8').toString('latin1');
      } else {
        out = p.text(content, `${ppath}.binary`);
      }
    }
    if (out !== content) chunks[i] = c.slice(0, hEnd + sep.length) + out + tail;
  }
  return chunks.join(delim);
}
