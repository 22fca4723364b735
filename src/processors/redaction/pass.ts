import { base64MayBeText, isBase64, looksLikeText, utf8OrUndefined, type InflatedBody } from '../../rrpair/body.js';
import type { Action, Finding, Redactor, ValueRule } from './redactor.js';
import { detectorCandidates, mayHoldCredentialKey } from './prefilter.js';
import { walkJson } from './walk/json.js';
import { at, DROP, sub, type Loc, type Out, type Rule } from './walk/out.js';
import { sweep } from './walk/sweep.js';
import { walkForm } from './walk/url.js';

const KV = /(["']?)([A-Za-z][\w.-]{1,63})\1(\s*[:=]\s*)(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s&,;"'<>)[{][^\s&,;"'<>)]*))/g;
const AUTH_SCHEME = /^(Bearer|Basic|Digest|Token|Negotiate|AWS4-HMAC-SHA256|ApiKey)(\s+)(.+)$/is;
/** A bare value of KV that is only an auth scheme word: its credential follows it (CREDENTIAL). */
const SCHEME_WORD = /^(?:Bearer|Basic|Digest|Token|Negotiate|AWS4-HMAC-SHA256|ApiKey)$/i;
/**
 * What follows a scheme word in free text, up to where a value in a line of JSON, a form or a
 * header list would end: a token (`abc.def`, `dXNlcjpw==`, `username="bob"`), then any
 * `, name=value` parameters (Digest, AWS4-HMAC-SHA256).
 */
const CREDENTIAL = /[ \t]+[^\s,;"'<>(){}[\]]+(?:"[^"\r\n]*")?(?:[ \t]*,[ \t]*[\w-]+=(?:"[^"\r\n]*"|[^\s,"'<>(){}[\]]*))*/y;
const AFTER_REPLACEMENT = /REDACTED-[A-Z0-9_]*-?[0-9a-f]*$/;
const PERCENT = /%[0-9A-Fa-f]{2}/;
const FORM = /^[\w.~%+-]+=[^\s&]*(?:&[\w.~%+-]+=[^\s&]*)+$/;
/** How many encodings deep a value is unwrapped (base64 of URL-encoded JSON is three). */
const MAX_NESTING = 3;

/**
 * The state of one RRPair's redaction: what was found, and the raw values replaced so far,
 * which are scrubbed again wherever else they occur in the RRPair. The format walkers in walk/
 * call back into value() and text() for every string they reach.
 */
export class Pass {
  readonly findings: Finding[] = [];
  readonly bodiesReplaced: { path: string; reason: string }[] = [];
  private readonly secrets = new Map<string, Rule>();
  /** The length of the shortest of `secrets`: a shorter string holds none of them. */
  private shortestSecret = Infinity;
  private depth = 0;

  /** @param inflated gzip bodies already gunzipped (off the event loop), by their req/res object. */
  constructor(readonly r: Redactor, readonly inflated?: ReadonlyMap<object, InflatedBody>) {}

  hit(path: Loc, category: string, raw: string, action: Action): string {
    this.findings.push({ path: at(path), category });
    if (raw.length >= 6 && !this.secrets.has(raw)) this.remember(raw, { category, action });
    return action === 'drop' ? '' : this.r.token(raw, category, action);
  }

  private remember(raw: string, rule: Rule): void {
    this.secrets.set(raw, rule);
    if (raw.length < this.shortestSecret) this.shortestSecret = raw.length;
  }

  /** A whole value under a sensitive key or path. */
  whole(value: string, path: Loc, rule: Rule): Out {
    if (value === '' || this.r.valueAllowed(value) || value.startsWith('REDACTED-')) return value;
    if (rule.action === 'drop') {
      this.hit(path, rule.category, value, 'drop');
      return DROP;
    }
    const scheme = this.r.opts.keep_auth_scheme ? AUTH_SCHEME.exec(value) : null;
    if (scheme) {
      this.remember(value, rule);
      return scheme[1]! + scheme[2]! + this.hit(path, rule.category, scheme[3]!, rule.action);
    }
    return this.hit(path, rule.category, value, rule.action);
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

  /** A value of a shape the structured walk did not expect, under `key` when it has one: sweep()'s loose reading. */
  loose(v: unknown, key: string | undefined, path: string): unknown {
    return sweep(this, v, path, 'loose', key);
  }

  /**
   * Free text: a value that is itself encoded (JSON in a string, base64 text, URL-encoded, a
   * form) is unwrapped and walked by what it is; then credentials in key=value / "key": "value"
   * form, then every value detector.
   */
  text(s: string, path: Loc, kv = true): string {
    if (s.length === 0) return s;
    const known = this.r.knownClean(s);
    if (known) return s;
    // Nothing found at depth 0 with the key=value scan means nothing found at any depth, with or
    // without it (deeper, fewer encodings are unwrapped: a subset of the same checks).
    const remember = known === false && this.depth === 0 && kv;
    const before = this.findings.length;
    let out = this.depth < MAX_NESTING && s.length >= 8 ? this.decoded(s, path) ?? s : s;
    const scan = kv ? this.r.keyValueScan : 'off';
    if (scan === 'all' ? out.includes('=') || out.includes(':') : scan === 'sensitive' && mayHoldCredentialKey(out, this.r.hasKeyRule)) {
      out = this.keyValues(out, path);
    }
    const bits = this.r.detectorBits;
    let maybe = detectorCandidates(out) & this.r.detectorMask;
    for (let i = 0; maybe !== 0 && i < bits.length; i++) {
      if (!(maybe & bits[i]!)) continue;
      const d = this.r.valueDetectors[i]!;
      const next = this.detect(out, path, d.regex, d.category, this.r.opts.action, d.group, d.valid);
      // a replacement can make a later detector's condition true (a hash is 20 hex digits)
      if (next !== out) maybe = detectorCandidates((out = next)) & this.r.detectorMask;
    }
    for (const v of this.r.customValueRules) out = this.detectCustom(out, path, v);
    if (remember && out === s && this.findings.length === before) this.r.rememberClean(s);
    return out;
  }

  /**
   * Credentials in `key=value` / `"key": "value"` form, by the key rules. A bare auth scheme word
   * (`Authorization: Bearer X`) takes its credential with it and is redacted as a header value is
   * (whole(): the scheme kept with keep_auth_scheme).
   */
  private keyValues(s: string, path: Loc): string {
    let out = '';
    let last = 0;
    KV.lastIndex = 0;
    for (let m = KV.exec(s); m !== null; m = KV.exec(s)) {
      const [, q, key, sep, dq, sq, bare] = m as unknown as [string, string, string, string, string?, string?, string?];
      const v = dq ?? sq ?? bare ?? '';
      if (!v || this.r.keyAllowed(key)) continue;
      const rule = this.r.keyRule(key);
      if (!rule || v.startsWith('REDACTED-') || this.r.valueAllowed(v)) continue;
      const kept = { category: rule.category, action: rule.action === 'drop' ? 'mask' : rule.action } as const;
      let end = KV.lastIndex;
      let rep: string;
      CREDENTIAL.lastIndex = end;
      const cred = bare !== undefined && SCHEME_WORD.test(bare) ? CREDENTIAL.exec(s) : null;
      if (cred) {
        end += cred[0].length;
        KV.lastIndex = end;
        rep = this.whole(bare + cred[0], sub(path, `.${key}`), kept) as string;
      } else {
        const h = this.hit(sub(path, `.${key}`), kept.category, v, kept.action);
        rep = dq !== undefined ? `"${h}"` : sq !== undefined ? `'${h}'` : h;
      }
      out += `${s.slice(last, m.index)}${q}${key}${q}${sep}${rep}`;
      last = end;
    }
    return last === 0 ? s : out + s.slice(last);
  }

  /** The value with what its decoded form held redacted, re-encoded the same way; undefined when it is no encoding or nothing changed. */
  private decoded(s: string, path: Loc): string | undefined {
    const first = s.charCodeAt(0);
    this.depth++;
    try {
      // JSON inside a string ("{\"password\":\"…\"}")
      if ((first === 123 || first === 91) && (s.endsWith('}') || s.endsWith(']'))) {
        let v: unknown;
        try {
          v = JSON.parse(s);
        } catch {
          return undefined;
        }
        const before = this.findings.length;
        const out = walkJson(this, v, `${at(path)}.json`, [], undefined);
        return this.findings.length === before ? undefined : JSON.stringify(out === DROP ? null : out);
      }
      // a form or query string (a=1&password=…)
      if (s.includes('&') && FORM.test(s)) {
        const out = walkForm(this, s, at(path));
        return out === s ? undefined : out;
      }
      // URL-encoded (%22, %40 …)
      if (s.includes('%') && PERCENT.test(s)) {
        let dec: string;
        try {
          dec = decodeURIComponent(s);
        } catch {
          return undefined;
        }
        const out = this.text(dec, path);
        return out === dec ? undefined : encodeURIComponent(out);
      }
      // base64 of text (standard or URL-safe alphabet)
      if (s.length >= 12 && s.length % 4 !== 1 && base64MayBeText(s) && isBase64(s)) {
        const url = /[-_]/.test(s);
        const bytes = Buffer.from(s, url ? 'base64url' : 'base64');
        const t = bytes.length >= 6 && looksLikeText(bytes) ? utf8OrUndefined(bytes) : undefined;
        if (t === undefined || !/[\s:=@.{"]/.test(t)) return undefined;
        const out = this.text(t, path);
        if (out === t) return undefined;
        const enc = Buffer.from(out, 'utf8');
        return url ? enc.toString('base64url') : enc.toString('base64');
      }
      return undefined;
    } finally {
      this.depth--;
    }
  }

  private detect(s: string, path: Loc, re: RegExp, category: string, action: Action, group?: number, valid?: (c: string) => boolean): string {
    re.lastIndex = 0;
    if (!re.test(s)) return s;
    re.lastIndex = 0;
    return s.replace(re, (...args) => {
      const m = args[0] as string;
      const cand = group ? (args[group] as string | undefined) : m;
      if (!cand || (valid && !valid(cand))) return m;
      const rep = this.replacement(s, args[args.length - 2] as number, path, category, cand, action);
      return rep === undefined ? m : group ? m.replace(cand, rep) : rep;
    });
  }

  /** A custom `rules[].value` (RE2): every match is replaced. */
  private detectCustom(s: string, path: Loc, rule: ValueRule): string {
    return rule.re.replace(s, (m, offset) => (m ? this.replacement(s, offset, path, rule.category, m, rule.action) ?? m : m));
  }

  /** What replaces a candidate found at offset in s, or undefined when it stays. */
  private replacement(s: string, offset: number, path: Loc, category: string, cand: string, action: Action): string | undefined {
    if (this.r.valueAllowed(cand)) return undefined;
    // never re-redact a replacement already written (`Bearer REDACTED-…`), or inside one
    if (cand.startsWith('REDACTED-')) return undefined;
    if (AFTER_REPLACEMENT.test(s.slice(Math.max(0, offset - 40), offset))) return undefined;
    return this.hit(path, category, cand, action);
  }

  /** Every value redacted in this RRPair, replaced wherever else it occurs in s. */
  scrub(s: string): string {
    if (s.length < this.shortestSecret || s.length < 6) return s;
    let out = s;
    for (const [raw, rule] of this.secrets) {
      if (out.includes(raw)) out = out.split(raw).join(this.r.token(raw, rule.category, rule.action === 'drop' ? 'mask' : rule.action));
    }
    return out;
  }
}
