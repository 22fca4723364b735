import { createHmac } from 'node:crypto';
import type { InflatedBody } from '../../rrpair/body.js';
import type { RRPair } from '../../rrpair/types.js';
import { DETECTORS, DETECTOR_NAMES, sensitiveKeyCategory, type Detector } from './detectors.js';
import { DETECTOR_BIT } from './prefilter.js';
import { Pass } from './pass.js';
import { walkBody } from './walk/body.js';
import { walkHeaders } from './walk/headers.js';
import { walkJson } from './walk/json.js';
import { isHeaders } from './walk/out.js';
import { redactTokenList, sweep } from './walk/sweep.js';
import { walkUrl } from './walk/url.js';
import { compileLinear, type LinearRegex } from '../../helpers/linear-regex.js';

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

interface KeyRule { re: LinearRegex; category: string; action: Action }
export interface ValueRule { re: LinearRegex; category: string; action: Action }
interface PathRule { path: string; category: string; action: Action }

/**
 * Fields that describe the infrastructure, not the traffic: left alone while they hold a string,
 * number or the like (`netinfo` an object); anything else in them is read loosely (an object
 * under `status` could carry anything).
 */
const INFRA = new Set(['msgType', 'resource', 'ts', 'l7protocol', 'duration', 'uuid', 'direction', 'cluster', 'namespace', 'service', 'tech',
  'network_address', 'netinfo', 'command', 'status', 'dlpModified', 'dlpRule']);
/** Fields redact() reads by their format before the sweep: not swept again. */
const WALKED = new Set(['http', 'postgres', 'grpc', 'location', 'tokenList']);

const always = () => true;
const isString = (v: unknown) => typeof v === 'string';
const isScalar = (v: unknown) => typeof v !== 'object';
/**
 * The fields of http.req / http.res the structured walk reads or leaves alone, each with the
 * check that its value has the shape expected; any other field, or one that fails its check, is
 * read loosely (Pass.loose).
 */
const PART_FIELDS = {
  req: new Map<string, (v: unknown) => boolean>([
    ['headers', isHeaders], ['url', isString], ['uri', isString], ['queryParams', isHeaders], ['bodyBase64', always], ['trailers', isHeaders],
    ['method', isScalar], ['version', isScalar], ['host', isScalar], ['contentType', isScalar],
  ]),
  res: new Map<string, (v: unknown) => boolean>([
    ['headers', isHeaders], ['bodyBase64', always], ['trailers', isHeaders],
    ['statusCode', isScalar], ['statusMessage', isScalar], ['contentType', isScalar], ['version', isScalar],
  ]),
};

/** How many HMACs are kept (see Redactor.hmacs). */
const TOKEN_CACHE_SIZE = 10_000;

/** Strings known to hold nothing (header values, enum-like JSON values recur in every request); cleared when full. */
const CLEAN_CACHE_SIZE = 20_000;
/** Only short strings are remembered: long ones rarely recur, and the cache stays small. */
const CLEAN_MAX_LENGTH = 256;

/** A double-quoted string literal of a JSON-like text (escapes kept as they are). */
const STRING_LITERAL = /"((?:[^"\\\r\n]|\\.)+)"/g;

/**
 * Redacts one RRPair in place. One instance per processor; `redact` keeps its per-RRPair state
 * in a fresh Pass (pass.ts), and each format has its walker in walk/: headers and cookies, URLs
 * and forms, JSON, XML, bodies (with multipart), and the sweep over the rest of the capture
 * (token lists included).
 */
export class Redactor {
  private readonly detectors: Detector[];
  /** DETECTOR_BIT of each of `detectors`, and all of them together. */
  readonly detectorBits: number[];
  readonly detectorMask: number;
  /**
   * Which texts the key=value regex runs on: none (no key can have a rule), those where
   * mayHoldCredentialKey finds a credential-like key (only the built-in sensitive keys), or
   * every text with a `:` or `=` (configured key regexes, which no cheap check can foresee).
   */
  readonly keyValueScan: 'off' | 'sensitive' | 'all';
  private readonly sensitiveRules = new Map<string, { category: string; action: Action }>();
  private readonly keyRules: KeyRule[] = [];
  private readonly valueRules: ValueRule[] = [];
  private readonly pathRules: PathRule[] = [];
  private readonly allowKeys: LinearRegex[];
  private readonly allowValues: LinearRegex[];
  /** HMACs of values seen again (the same credential in every request), by value; cleared when full. */
  private readonly hmacs = new Map<string, string>();
  /** Strings Pass.text left unchanged with nothing found; undefined when a path rule makes the answer depend on where a string is. */
  private readonly clean: Set<string> | undefined;

  constructor(readonly opts: RedactorOptions) {
    this.detectors = DETECTOR_NAMES.filter((n) => opts.detectors[n] !== false).map((n) => DETECTORS[n]);
    this.detectorBits = this.detectors.map((d) => DETECTOR_BIT[d.name]);
    this.detectorMask = this.detectorBits.reduce((a, b) => a | b, 0);
    // The operator's patterns meet attacker-controlled traffic: RE2, linear in the input.
    const keyRe = (source: string) => compileLinear(source, 'redaction key', { ignoreCase: true });
    for (const k of opts.keys) this.keyRules.push({ re: keyRe(k), category: 'CUSTOM', action: opts.action });
    for (const r of opts.rules) {
      const category = (r.category ?? r.name ?? 'CUSTOM').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
      const action = r.action ?? opts.action;
      if (r.key) this.keyRules.push({ re: keyRe(r.key), category, action });
      if (r.value) this.valueRules.push({ re: compileLinear(r.value, 'redaction value'), category, action });
      if (r.path) this.pathRules.push({ path: r.path.toLowerCase().replace(/\[(\d+)\]/g, '.$1'), category, action });
    }
    this.allowKeys = opts.allow.keys.map(keyRe);
    this.allowValues = opts.allow.values.map((v) => compileLinear(`^(?:${v})$`, 'redaction allow value'));
    this.keyValueScan = this.keyRules.length ? 'all' : opts.sensitive_keys ? 'sensitive' : 'off';
    this.clean = this.pathRules.length ? undefined : new Set();

  }

  /** `REDACTED-<CATEGORY>-<first 20 hex of HMAC-SHA256(value)>` (mask) or the 20 hex alone (hash). */
  token(value: string, category: string, action: Action): string {
    let h = this.hmacs.get(value);
    if (h === undefined) {
      h = createHmac('sha256', this.opts.secret).update(value).digest('hex').slice(0, 20);
      if (this.hmacs.size >= TOKEN_CACHE_SIZE) this.hmacs.clear();
      this.hmacs.set(value, h);
    }
    return action === 'hash' ? h : `REDACTED-${category}-${h}`;
  }

  /** @param inflated gzip bodies already gunzipped (gunzipBodiesAsync), by their req/res object; the rest is decoded here. */
  redact(rr: RRPair, inflated?: ReadonlyMap<object, InflatedBody>): RedactResult {
    const p = new Pass(this, inflated);
    // What the structured walk finds in a shape it does not expect, read loosely once it is done
    // (so that the values it redacted are scrubbed there too): [holder, field, path].
    const odd: [Record<string, unknown>, string, string][] = [];
    const http = rr.http;
    if (http && typeof http === 'object' && !Array.isArray(http)) {
      for (const side of ['req', 'res'] as const) {
        const part = http[side];
        if (part === undefined || part === null) continue;
        const base = `http.${side}`;
        if (typeof part !== 'object' || Array.isArray(part)) {
          odd.push([http, side, base]);
          continue;
        }
        if (isHeaders(part.headers)) walkHeaders(p, part.headers, `${base}.headers`);
        if (side === 'req') {
          for (const f of ['url', 'uri'] as const) if (typeof part[f] === 'string') part[f] = walkUrl(p, part[f] as string, `${base}.${f}`);
          if (isHeaders(part.queryParams)) walkHeaders(p, part.queryParams, `${base}.queryParams`);
        }
        walkBody(p, part, `${base}.body`);
        if (isHeaders(part.trailers)) walkHeaders(p, part.trailers, `${base}.trailers`);
        const fields = PART_FIELDS[side];
        for (const k of Object.keys(part)) {
          const v = part[k];
          if (v !== undefined && v !== null && !fields.get(k)?.(v)) odd.push([part, k, `${base}.${k}`]);
        }
      }
      for (const k of Object.keys(http)) if (k !== 'req' && k !== 'res') odd.push([http, k, `http.${k}`]);
    } else if (http !== undefined && http !== null) odd.push([rr, 'http', 'http']);
    if (typeof rr.location === 'string') rr.location = walkUrl(p, rr.location, 'location');
    else if (rr.location !== null && typeof rr.location === 'object') odd.push([rr, 'location', 'location']);
    for (const f of ['postgres', 'grpc'] as const) {
      if (rr[f] && typeof rr[f] === 'object') rr[f] = walkJson(p, rr[f], f, [], undefined) as never;
      else if (typeof rr[f] === 'string') odd.push([rr, f, f]);
    }
    // Token lists hold the originals of values Speedscale replaced: credentials by their location.
    if (rr.tokenList !== undefined) {
      redactTokenList(p, rr.tokenList, 'tokenList');
      rr.tokenList = sweep(p, rr.tokenList, 'tokenList') as never;
    }
    for (const [holder, k, path] of odd) holder[k] = p.loose(holder[k], k, path);
    // Everything else the capture carries (signature, session, tags …): the values redacted
    // above are scrubbed wherever they recur, base64 values are looked into, a value under a key
    // named like a credential is redacted whole.
    for (const k of Object.keys(rr)) {
      if (WALKED.has(k)) continue;
      const v = rr[k];
      if (INFRA.has(k)) {
        if (v !== null && typeof v === 'object' && (k !== 'netinfo' || Array.isArray(v))) rr[k] = p.loose(v, k, k);
        continue;
      }
      rr[k] = sweep(p, v, k, 'keyed', k);
    }
    return { findings: p.findings, bodiesReplaced: p.bodiesReplaced };
  }

  /** Free text that never became an RRPair (a malformed input line), with what redact() would find in it redacted. */
  redactText(text: string): { text: string; findings: Finding[] } {
    const p = new Pass(this);
    // Such a line is often almost JSON: each string literal is looked into on its own (a form,
    // base64 or JSON inside it), then the whole line for key: value pairs and detectors.
    const inner = text.replace(STRING_LITERAL, (m, body: string) => {
      const out = p.text(body, 'raw');
      return out === body ? m : `"${out}"`;
    });
    return { text: p.text(inner, 'raw'), findings: p.findings };
  }

  /** True when s is known to hold nothing, false when it could be remembered, undefined when it cannot. */
  knownClean(s: string): boolean | undefined {
    if (!this.clean || s.length > CLEAN_MAX_LENGTH) return undefined;
    return this.clean.has(s);
  }
  rememberClean(s: string): void {
    if (this.clean!.size >= CLEAN_CACHE_SIZE) this.clean!.clear();
    this.clean!.add(s);
  }

  // --- rule lookups shared by the walkers ---

  keyAllowed(key: string): boolean {
    for (let i = 0; i < this.allowKeys.length; i++) if (this.allowKeys[i]!.test(key)) return true;
    return false;
  }
  valueAllowed(v: string): boolean {
    for (let i = 0; i < this.allowValues.length; i++) if (this.allowValues[i]!.test(v)) return true;
    return false;
  }
  readonly hasKeyRule = (key: string): boolean => this.keyRule(key) !== undefined;
  keyRule(key: string): { category: string; action: Action } | undefined {
    for (const r of this.keyRules) if (r.re.test(key)) return r;
    if (this.opts.sensitive_keys) {
      const c = sensitiveKeyCategory(key);
      if (c) {
        let rule = this.sensitiveRules.get(c);
        if (!rule) this.sensitiveRules.set(c, (rule = { category: c, action: this.opts.action }));
        return rule;
      }
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
