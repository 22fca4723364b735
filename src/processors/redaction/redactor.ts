import { createHmac } from 'node:crypto';
import { bodyKind, contentTypeOf, decodeBody, encodeBody, isBase64, jsonIndent, looksLikeText, utf8OrUndefined, type BodyKind } from '../../rrpair/body.js';
import { formatJsonPath } from '../../rrpair/path.js';
import type { Headers, RRPair } from '../../rrpair/types.js';
import { DETECTORS, DETECTOR_NAMES, isCardNumber, sensitiveKeyCategory, type Detector } from './detectors.js';

export type Action = 'mask' | 'hash' | 'drop';

export interface CustomRule {
  name?: string;
  /** Regex on key names (headers, query and form fields, cookies, JSON keys, XML elements). */
  key?: string;
  /** A location: `http.req.headers.X-Api-Key`, `http.res.body.json.$.user.ssn`, or `$.user.ssn` (any JSON body). */
  path?: string;
  /** Regex on values; every match is replaced. */
  value?: string;
  category?: string;
  action?: Action;
}

/** The redaction processor's config (declared once, by its schema in index.ts). */
export type RedactorOptions = Omit<import('./index.js').RedactionConfig, 'rule_set' | 'summary_attribute'>;

export interface Finding {
  path: string;
  category: string;
}

export interface RedactResult {
  findings: Finding[];
  /** Bodies that were not parsed and were replaced whole: invalid base64, too large. */
  bodiesReplaced: { path: string; reason: string }[];
}

interface KeyRule { re: RegExp; category: string; action: Action }
interface ValueRule { re: RegExp; category: string; action: Action }
interface PathRule { path: string; category: string; action: Action }

const DROP = Symbol('drop');
/** A location, computed only when something is found there. */
type Loc = string | (() => string);
const at = (l: Loc): string => (typeof l === 'string' ? l : l());
const sub = (l: Loc, suffix: string): Loc => (typeof l === 'string' ? l + suffix : () => l() + suffix);
type Out = string | typeof DROP;

/** Fields that describe the infrastructure, not the traffic: left alone. */
const INFRA = new Set(['msgType', 'resource', 'ts', 'l7protocol', 'duration', 'uuid', 'direction', 'cluster', 'namespace', 'service', 'tech',
  'network_address', 'netinfo', 'command', 'status', 'http', 'postgres', 'grpc', 'dlpModified', 'dlpRule', 'location']);

/**
 * Redacts one RRPair in place. One instance per processor; `redact` keeps its per-RRPair state
 * (findings, the secret values it replaced) in a fresh Pass object, so it is safe to reuse.
 */
export class Redactor {
  private readonly detectors: Detector[];
  private readonly keyRules: KeyRule[] = [];
  private readonly valueRules: ValueRule[] = [];
  private readonly pathRules: PathRule[] = [];
  private readonly allowKeys: RegExp[];
  private readonly allowValues: RegExp[];

  constructor(readonly opts: RedactorOptions) {
    this.detectors = DETECTOR_NAMES.filter((n) => opts.detectors[n] !== false).map((n) => DETECTORS[n]);
    for (const k of opts.keys) this.keyRules.push({ re: new RegExp(k, 'i'), category: 'CUSTOM', action: opts.action });
    for (const r of opts.rules) {
      const category = (r.category ?? r.name ?? 'CUSTOM').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
      const action = r.action ?? opts.action;
      if (r.key) this.keyRules.push({ re: new RegExp(r.key, 'i'), category, action });
      if (r.value) this.valueRules.push({ re: new RegExp(r.value, 'g'), category, action });
      if (r.path) this.pathRules.push({ path: r.path.toLowerCase().replace(/\[(\d+)\]/g, '.$1'), category, action });
    }
    this.allowKeys = opts.allow.keys.map((k) => new RegExp(k, 'i'));
    this.allowValues = opts.allow.values.map((v) => new RegExp(`^(?:${v})$`));
  }

  /** `REDACTED-<CATEGORY>-<first 20 hex of HMAC-SHA256(value)>` (mask) or the 20 hex alone (hash). */
  token(value: string, category: string, action: Action): string {
    const h = createHmac('sha256', this.opts.secret).update(value).digest('hex').slice(0, 20);
    return action === 'hash' ? h : `REDACTED-${category}-${h}`;
  }

  redact(rr: RRPair): RedactResult {
    const p = new Pass(this);
    const http = rr.http;
    if (http && typeof http === 'object') {
      for (const side of ['req', 'res'] as const) {
        const part = http[side];
        if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
        const base = `http.${side}`;
        if (isHeaders(part.headers)) p.headers(part.headers, `${base}.headers`);
        if (side === 'req') {
          for (const f of ['url', 'uri'] as const) if (typeof part[f] === 'string') part[f] = p.url(part[f] as string, `${base}.${f}`);
          if (isHeaders(part.queryParams)) p.params(part.queryParams, `${base}.queryParams`);
        }
        p.body(part as { bodyBase64?: unknown; headers?: Headers; contentType?: unknown }, `${base}.body`);
      }
    }
    if (typeof rr.location === 'string') rr.location = p.url(rr.location, 'location');
    for (const f of ['postgres', 'grpc'] as const) {
      if (rr[f] && typeof rr[f] === 'object') rr[f] = p.json(rr[f], f, [], undefined) as never;
    }
    // Everything else the capture carries (signature, tokenList, session, tags …): the values
    // redacted above are scrubbed wherever they recur, base64 values are looked into.
    for (const k of Object.keys(rr)) {
      if (INFRA.has(k)) continue;
      rr[k] = p.sweep(rr[k], k);
    }
    return { findings: p.findings, bodiesReplaced: p.bodiesReplaced };
  }

  // --- rule lookups shared by passes ---

  keyAllowed(key: string): boolean {
    return this.allowKeys.some((re) => re.test(key));
  }
  valueAllowed(v: string): boolean {
    return this.allowValues.some((re) => re.test(v));
  }
  keyRule(key: string): { category: string; action: Action } | undefined {
    for (const r of this.keyRules) if (r.re.test(key)) return r;
    if (this.opts.sensitive_keys) {
      const c = sensitiveKeyCategory(key);
      if (c) return { category: c, action: this.opts.action };
    }
    return undefined;
  }
  pathRule(loc: string): { category: string; action: Action } | undefined {
    if (!this.pathRules.length) return undefined;
    const l = loc.toLowerCase();
    for (const r of this.pathRules) {
      if (l === r.path || l.startsWith(r.path + '.') || (r.path.startsWith('$') && l.endsWith('.json.' + r.path))) return r;
    }
    return undefined;
  }
  get hasPathRules(): boolean {
    return this.pathRules.length > 0;
  }
  get valueDetectors(): Detector[] {
    return this.detectors;
  }
  get customValueRules(): ValueRule[] {
    return this.valueRules;
  }
}

function isHeaders(h: unknown): h is Headers {
  return typeof h === 'object' && h !== null && !Array.isArray(h);
}

const KV = /(["']?)([A-Za-z][\w.-]{1,63})\1(\s*[:=]\s*)(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s&,;"'<>)]+))/g;

/** The state of one RRPair's redaction. */
class Pass {
  readonly findings: Finding[] = [];
  readonly bodiesReplaced: { path: string; reason: string }[] = [];
  /** Raw values replaced so far, scrubbed again wherever else they occur in the RRPair. */
  private readonly secrets = new Map<string, { category: string; action: Action }>();

  constructor(private readonly r: Redactor) {}

  private readonly tokens = new Map<string, string>();

  private hit(path: Loc, category: string, raw: string, action: Action): string {
    this.findings.push({ path: at(path), category });
    if (raw.length >= 6 && !this.secrets.has(raw)) this.secrets.set(raw, { category, action });
    return action === 'drop' ? '' : this.token(raw, category, action);
  }

  private token(raw: string, category: string, action: Action): string {
    const k = `${action}\u0000${category}\u0000${raw}`;
    let t = this.tokens.get(k);
    if (t === undefined) this.tokens.set(k, (t = this.r.token(raw, category, action)));
    return t;
  }

  /** A whole value under a sensitive key or path. */
  private whole(value: string, path: Loc, rule: { category: string; action: Action }): Out {
    if (value === '' || this.r.valueAllowed(value) || value.startsWith('REDACTED-')) return value;
    if (rule.action === 'drop') {
      this.hit(path, rule.category, value, 'drop');
      return DROP;
    }
    const scheme = this.r.opts.keep_auth_scheme ? /^(Bearer|Basic|Digest|Token|Negotiate|AWS4-HMAC-SHA256|ApiKey)(\s+)(.+)$/is.exec(value) : null;
    if (scheme) {
      this.secrets.set(value, rule);
      return scheme[1]! + scheme[2]! + this.hit(path, rule.category, scheme[3]!, rule.action);
    }
    return this.hit(path, rule.category, value, rule.action);
  }

  /** Free text: credentials in key=value / "key": "value" form, then every value detector. */
  text(s: string, path: Loc, kv = true): string {
    if (s.length === 0) return s;
    let out = s;
    if (kv && /[:=]/.test(out)) {
      out = out.replace(KV, (m, q: string, key: string, sep: string, dq?: string, sq?: string, bare?: string) => {
        const v = dq ?? sq ?? bare ?? '';
        if (!v || this.r.keyAllowed(key)) return m;
        const rule = this.r.keyRule(key);
        if (!rule || v.startsWith('REDACTED-') || this.r.valueAllowed(v)) return m;
        const rep = this.hit(sub(path, `.${key}`), rule.category, v, rule.action === 'drop' ? 'mask' : rule.action);
        const quoted = dq !== undefined ? `"${rep}"` : sq !== undefined ? `'${rep}'` : rep;
        return `${q}${key}${q}${sep}${quoted}`;
      });
    }
    for (const d of this.r.valueDetectors) if (!d.maybe || d.maybe(out)) out = this.detect(out, path, d.regex, d.category, this.r.opts.action, d.group, d.valid);
    for (const v of this.r.customValueRules) out = this.detect(out, path, v.re, v.category, v.action);
    return out;
  }

  private detect(s: string, path: Loc, re: RegExp, category: string, action: Action, group?: number, valid?: (c: string) => boolean): string {
    re.lastIndex = 0;
    if (!re.test(s)) return s;
    re.lastIndex = 0;
    return s.replace(re, (...args) => {
      const m = args[0] as string;
      const offset = args[args.length - 2] as number;
      const cand = group ? (args[group] as string | undefined) : m;
      if (!cand || (valid && !valid(cand)) || this.r.valueAllowed(cand)) return m;
      // never re-redact inside a replacement already written
      if (/REDACTED-[A-Z0-9_]*-?[0-9a-f]*$/.test(s.slice(Math.max(0, offset - 40), offset))) return m;
      const rep = this.hit(path, category, cand, action);
      return group ? m.replace(cand, rep) : rep;
    });
  }

  /** A string found under `key` at `path`: path rules, key rules, then text detectors. */
  value(v: string, key: string | undefined, path: Loc): Out {
    const pr = this.r.hasPathRules ? this.r.pathRule(at(path)) : undefined;
    if (key !== undefined && this.r.keyAllowed(key)) return v;
    if (pr) return this.whole(v, path, pr);
    if (key !== undefined) {
      const kr = this.r.keyRule(key);
      if (kr) return this.whole(v, path, kr);
    }
    return this.text(v, path);
  }

  headers(h: Headers, base: string): void {
    for (const name of Object.keys(h)) {
      const vals = h[name];
      if (!Array.isArray(vals)) {
        if (typeof vals === 'string') {
          const out = this.header(name, vals, `${base}.${name}.0`);
          if (out === DROP) delete h[name];
          else h[name] = [out] as never;
        }
        continue;
      }
      const out: string[] = [];
      vals.forEach((v, i) => {
        if (typeof v !== 'string') return void out.push(v);
        const r = this.header(name, v, `${base}.${name}.${i}`);
        if (r !== DROP) out.push(r);
      });
      if (out.length === 0 && vals.length > 0) delete h[name];
      else h[name] = out;
    }
  }

  private header(name: string, v: string, path: string): Out {
    const lower = name.toLowerCase();
    if (this.r.keyAllowed(name)) return v;
    if (!this.r.pathRule(path) && (lower === 'cookie' || lower === 'set-cookie')) return this.cookies(v, path, lower === 'set-cookie');
    return this.value(v, name, path);
  }

  /** Cookie: every pair's value; Set-Cookie: the first pair's value (attributes stay readable). */
  private cookies(v: string, path: string, setCookie: boolean): Out {
    const parts = v.split(';');
    const n = setCookie ? 1 : parts.length;
    for (let i = 0; i < n; i++) {
      const p = parts[i]!;
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const name = p.slice(0, eq).trim();
      const val = p.slice(eq + 1);
      if (!val.trim() || this.r.keyAllowed(name)) continue;
      const out = this.whole(val.trim(), `${path}.${name}`, { category: 'COOKIE', action: this.r.opts.action === 'drop' ? 'mask' : this.r.opts.action });
      parts[i] = `${p.slice(0, eq + 1)}${out === DROP ? '' : out}`;
    }
    return parts.join(';');
  }

  params(q: Headers, base: string): void {
    this.headers(q, base);
  }

  /** A URL or path: every path segment through the detectors, every query parameter as a field. */
  url(u: string, path: string): string {
    const hashAt = u.indexOf('#');
    const frag = hashAt >= 0 ? u.slice(hashAt) : '';
    const noFrag = hashAt >= 0 ? u.slice(0, hashAt) : u;
    const qAt = noFrag.indexOf('?');
    const p = qAt >= 0 ? noFrag.slice(0, qAt) : noFrag;
    const q = qAt >= 0 ? noFrag.slice(qAt + 1) : undefined;
    const m = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(.*)$/i.exec(p);
    const origin = m ? m[1]! : '';
    const segs = (m ? m[2]! : p).split('/').map((seg) => {
      if (!seg) return seg;
      let dec = seg;
      try {
        dec = decodeURIComponent(seg);
      } catch {
        /* keep */
      }
      const out = this.text(dec, `${path}.path`, false);
      return out === dec ? seg : encodeURIComponent(out);
    });
    const query = q === undefined ? '' : '?' + this.form(q, `${path}.query`);
    return origin + segs.join('/') + query + frag;
  }

  /** application/x-www-form-urlencoded (also a query string): each field by its name. */
  form(s: string, path: string): string {
    return s
      .split('&')
      .flatMap((pair) => {
        if (!pair) return [pair];
        const eq = pair.indexOf('=');
        const rawK = eq < 0 ? pair : pair.slice(0, eq);
        const rawV = eq < 0 ? '' : pair.slice(eq + 1);
        const k = safeDecode(rawK);
        const v = safeDecode(rawV);
        const out = eq < 0 ? this.text(k, `${path}.${k}`, false) : this.value(v, k, `${path}.${k}`);
        if (out === DROP) return [];
        if (eq < 0) return [out === k ? pair : encodeURIComponent(out)];
        return [out === v ? pair : `${rawK}=${encodeURIComponent(out)}`];
      })
      .join('&');
  }

  /** Walk a JSON value: keys by the key rules, strings and numbers by the detectors. */
  json(v: unknown, base: string, steps: (string | number)[], key: string | undefined): unknown | typeof DROP {
    const path = () => (base.endsWith('.json') ? `${base}.${formatJsonPath(steps)}` : [base, ...steps].join('.'));
    if (typeof v === 'string') return this.value(v, key, path);
    if (typeof v === 'number') {
      if (key !== undefined && this.r.keyAllowed(key)) return v;
      const rule = (key !== undefined ? this.r.keyRule(key) : undefined) ?? (this.r.hasPathRules ? this.r.pathRule(path()) : undefined);
      if (rule) return this.whole(String(v), path, rule);
      if (this.r.opts.detectors.credit_card !== false && Number.isSafeInteger(v) && v > 1e12 && isCardNumber(String(v))) {
        return this.hit(path, 'CREDIT_CARD', String(v), this.r.opts.action);
      }
      return v;
    }
    if (v === null || typeof v !== 'object') return v;
    if (key !== undefined && !this.r.keyAllowed(key)) {
      const rule = (this.r.hasPathRules ? this.r.pathRule(path()) : undefined) ?? this.r.keyRule(key);
      if (rule) return this.whole(JSON.stringify(v), path, rule);
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      v.forEach((x, i) => {
        const r = this.json(x, base, [...steps, i], key);
        if (r !== DROP) out.push(r);
      });
      return out;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const r = this.json(o[k], base, [...steps, k], k);
      if (r === DROP) delete o[k];
      else o[k] = r;
    }
    return o;
  }

  /** A body in bodyBase64: decoded, redacted by content type, written back the same way. */
  body(part: { bodyBase64?: unknown; headers?: Headers; contentType?: unknown }, path: string): void {
    const b64 = part.bodyBase64;
    if (b64 === undefined || b64 === null || b64 === '') return;
    if (typeof b64 !== 'string') {
      // a body of the wrong type cannot be decoded: replaced whole
      part.bodyBase64 = this.replaceBody(JSON.stringify(b64), path, 'invalid_type');
      return;
    }
    const headers = isHeaders(part.headers) ? part.headers : undefined;
    const dec = decodeBody(b64, headers, this.r.opts.max_body_size);
    if (!dec.ok) {
      if (dec.reason === 'decompress_failed') {
        const raw = Buffer.from(b64, 'base64');
        const out = this.text(raw.toString('latin1'), `${path}.text`);
        part.bodyBase64 = Buffer.from(out, 'latin1').toString('base64');
        return;
      }
      if (dec.reason === 'too_large' && this.r.opts.oversize_body === 'drop') {
        this.bodiesReplaced.push({ path, reason: dec.reason });
        this.findings.push({ path, category: 'BODY' });
        delete part.bodyBase64;
      } else {
        part.bodyBase64 = this.replaceBody(b64, path, dec.reason);
      }
      this.setContentLength(part, headers);
      return;
    }
    const utf8 = utf8OrUndefined(dec.bytes);
    const text = utf8 ?? dec.bytes.toString('latin1');
    const kind = bodyKind(contentTypeOf(part), utf8);
    const out = this.bodyText(text, kind, contentTypeOf(part) ?? '', path);
    if (out === text) return;
    const bytes = Buffer.from(out, utf8 !== undefined ? 'utf8' : 'latin1');
    part.bodyBase64 = encodeBody(bytes, dec.encoding);
    this.setContentLength(part, headers);
  }

  private replaceBody(original: string, path: string, reason: string): string {
    this.bodiesReplaced.push({ path, reason });
    this.findings.push({ path, category: 'BODY' });
    return Buffer.from(this.r.token(original, 'BODY', this.r.opts.action === 'hash' ? 'hash' : 'mask')).toString('base64');
  }

  private setContentLength(part: { bodyBase64?: unknown }, headers: Headers | undefined): void {
    if (!headers) return;
    const name = Object.keys(headers).find((k) => k.toLowerCase() === 'content-length');
    if (!name) return;
    const len = typeof part.bodyBase64 === 'string' ? Buffer.from(part.bodyBase64, 'base64').length : 0;
    headers[name] = [String(len)];
  }

  bodyText(text: string, kind: BodyKind, contentType: string, path: string): string {
    switch (kind) {
      case 'json': {
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch {
          return this.text(text, `${path}.text`);
        }
        const before = this.findings.length;
        const out = this.json(v, `${path}.json`, [], undefined);
        if (this.findings.length === before) return text;
        return JSON.stringify(out === DROP ? null : out, null, jsonIndent(text)) + (text.endsWith('\n') ? '\n' : '');
      }
      case 'ndjson':
        return text
          .split('\n')
          .map((line, i) => (line.trim() ? this.bodyText(line, 'json', '', `${path}.${i}`) : line))
          .join('\n');
      case 'form':
        return this.form(text, `${path}.form`);
      case 'multipart':
        return this.multipart(text, contentType, path);
      case 'xml':
        return this.xml(text, `${path}.xml`);
      default:
        return this.text(text, `${path}.text`);
    }
  }

  private multipart(text: string, contentType: string, path: string): string {
    const bm = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    const boundary = bm?.[1] ?? bm?.[2];
    if (!boundary) return this.text(text, `${path}.text`);
    const delim = `--${boundary}`;
    const chunks = text.split(delim);
    for (let i = 1; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (c.startsWith('--')) continue;
      const sep = c.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
      const hEnd = c.indexOf(sep);
      if (hEnd < 0) {
        chunks[i] = this.text(c, `${path}.multipart`);
        continue;
      }
      const head = c.slice(0, hEnd);
      const tail = /\r?\n$/.exec(c.slice(hEnd + sep.length))?.[0] ?? '';
      const content = c.slice(hEnd + sep.length, c.length - tail.length);
      const name = /name="([^"]*)"/i.exec(head)?.[1] ?? String(i);
      const ct = /^content-type:\s*([^\r\n]+)/im.exec(head)?.[1] ?? 'text/plain';
      const ppath = `${path}.multipart.${name}`;
      let out: string;
      const rule = this.r.keyAllowed(name) ? undefined : this.r.pathRule(ppath) ?? this.r.keyRule(name);
      if (rule) {
        const w = this.whole(content, ppath, rule);
        out = w === DROP ? '' : w;
      } else {
        const bytes = Buffer.from(content, 'latin1');
        const asUtf8 = looksLikeText(bytes) ? utf8OrUndefined(bytes) : undefined;
        if (asUtf8 !== undefined) {
          const kind = bodyKind(ct, asUtf8);
          // an octet-stream upload that is text (a .jsonl file) is still read
          const r = this.bodyText(asUtf8, kind === 'text' && /^\s*[{[]/.test(asUtf8) ? 'ndjson' : kind, ct, ppath);
          out = r === asUtf8 ? content : Buffer.from(r, 'utf8').toString('latin1');
        } else {
          out = this.text(content, `${ppath}.binary`);
        }
      }
      if (out !== content) chunks[i] = c.slice(0, hEnd + sep.length) + out + tail;
    }
    return chunks.join(delim);
  }

  /** XML: elements and attributes named like credentials, then the detectors on everything. */
  private xml(text: string, path: string): string {
    let out = text.replace(/<((?:[\w.-]+:)?([\w.-]+))(\s[^>]*)?>([^<]*)<\/\1>/g, (m, tag: string, local: string, attrs: string | undefined, inner: string) => {
      if (!inner.trim() || this.r.keyAllowed(local)) return m;
      const rule = this.r.keyRule(local);
      if (!rule) return m;
      const w = this.whole(inner, `${path}.${local}`, rule);
      return `<${tag}${attrs ?? ''}>${w === DROP ? '' : w}</${tag}>`;
    });
    out = out.replace(/(\s)([\w:.-]+)=("([^"]*)"|'([^']*)')/g, (m, sp: string, name: string, _q: string, dq?: string, sq?: string) => {
      const v = dq ?? sq ?? '';
      const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
      if (!v || this.r.keyAllowed(local)) return m;
      const rule = this.r.keyRule(local);
      if (!rule) return m;
      const w = this.whole(v, `${path}.@${local}`, rule);
      const rep = w === DROP ? '' : w;
      return `${sp}${name}=${dq !== undefined ? `"${rep}"` : `'${rep}'`}`;
    });
    return this.text(out, path, false);
  }

  /** Every value redacted in this RRPair, replaced wherever else it occurs in s. */
  scrub(s: string): string {
    if (!this.secrets.size || s.length < 6) return s;
    let out = s;
    for (const [raw, rule] of this.secrets) {
      if (out.includes(raw)) out = out.split(raw).join(this.token(raw, rule.category, rule.action === 'drop' ? 'mask' : rule.action));
    }
    return out;
  }

  /** Other fields: strings scrubbed and run through the detectors, base64 text looked into, keys scrubbed. */
  sweep(v: unknown, path: string): unknown {
    if (typeof v === 'string') {
      if (v.length >= 8 && v.length % 4 === 0 && isBase64(v)) {
        const bytes = Buffer.from(v, 'base64');
        const t = looksLikeText(bytes) ? utf8OrUndefined(bytes) : undefined;
        if (t !== undefined) {
          const kind = bodyKind(undefined, t);
          const out = this.scrub(kind === 'json' ? this.bodyText(t, 'json', '', path) : this.text(t, path));
          return out === t ? v : Buffer.from(out, 'utf8').toString('base64');
        }
      }
      return this.scrub(this.text(v, path));
    }
    if (Array.isArray(v)) return v.map((x, i) => this.sweep(x, `${path}.${i}`));
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) out[this.scrub(k)] = this.sweep(o[k], `${path}.${k}`);
      return out;
    }
    return v;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
