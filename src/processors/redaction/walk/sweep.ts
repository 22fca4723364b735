import { base64MayBeText, bodyKind, isBase64, looksLikeText, utf8OrUndefined } from '../../../rrpair/body.js';
import type { Pass } from '../pass.js';
import { walkBodyText } from './body.js';
import { cookieHeader, headerValue, SET_COOKIE } from './headers.js';
import { DROP, type Out, type Rule } from './out.js';

/**
 * How sweep reads keys. `plain`: not at all (a token list, whose keys are its structure: `token`,
 * `UNRECOGNIZED:empty-api-key`). `keyed`: a value under a key named like a credential (the key
 * rules) is redacted whole. `loose`, for what the structured walk found where it expected
 * something else (under `http`, a header value, an infrastructure field): as `keyed`, and text of
 * `Name: value` lines is read as headers, a string naming a credential key in a list as the name
 * of the value after it (`[name, value]` pairs, flat name/value lists), a `{name, value}` object
 * as a header.
 */
export type Keys = 'plain' | 'keyed' | 'loose';

type Steps = (string | number)[];

/** Other fields: strings scrubbed and run through the detectors, base64 text looked into, keys scrubbed; `key`: the value's own key. */
export function sweep(p: Pass, v: unknown, path: string, keys: Keys = 'plain', key?: string): unknown {
  // One location function over a shared stack of steps (`path.k.0`), called only when something
  // is found, while the walk is at that node: no path string is built per node.
  const steps: Steps = [];
  const loc = () => (steps.length ? `${path}.${steps.join('.')}` : path);
  return key === undefined ? sweepNode(p, v, loc, steps, keys) : under(p, v, key, loc, steps, keys);
}

function sweepNode(p: Pass, v: unknown, loc: () => string, steps: Steps, keys: Keys): unknown {
  if (typeof v === 'string') return keys === 'loose' && mayBeHeaderText(v) ? p.scrub(headerText(p, v, loc)) : sweepString(p, v, loc);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const name = v[i];
      steps.push(i);
      v[i] = sweepNode(p, name, loc, steps, keys);
      steps.pop();
      // a credential key's name, then its value ([name, value], [n1, v1, n2, v2 …])
      if (keys === 'loose' && typeof name === 'string' && i + 1 < v.length) {
        const rule = ruleOf(p, name);
        if (rule) {
          steps.push(++i);
          v[i] = redactUnder(p, v[i], name, rule, loc, keys);
          steps.pop();
        }
      }
    }
    return v;
  }
  if (v && typeof v === 'object') {
    // in place while no key needs scrubbing; a scrubbed key rebuilds the object in key order
    const o = v as Record<string, unknown>;
    const ks = Object.keys(o);
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i]!;
      if (p.scrub(k) !== k) return rebuild(p, o, ks, i, loc, steps, keys);
      steps.push(k);
      o[k] = child(p, o, k, loc, steps, keys);
      steps.pop();
    }
    return o;
  }
  return v;
}

function sweepString(p: Pass, v: string, loc: () => string): string {
  if (v.length >= 8 && v.length % 4 === 0 && base64MayBeText(v) && isBase64(v)) {
    const bytes = Buffer.from(v, 'base64');
    const t = looksLikeText(bytes) ? utf8OrUndefined(bytes) : undefined;
    if (t !== undefined) {
      const kind = bodyKind(undefined, t);
      const out = p.scrub(kind === 'json' ? walkBodyText(p, t, 'json', '', loc()) : p.text(t, loc));
      return out === t ? v : Buffer.from(out, 'utf8').toString('base64');
    }
  }
  return p.scrub(p.text(v, loc));
}

/** o[k], under the key rule of k (or, `loose`, of the header a `{name, value}` object is). */
function child(p: Pass, o: Record<string, unknown>, k: string, loc: () => string, steps: Steps, keys: Keys): unknown {
  if (keys === 'plain') return sweepNode(p, o[k], loc, steps, keys);
  const named = keys === 'loose' && k === 'value' ? o.name ?? o.key : undefined;
  return under(p, o[k], typeof named === 'string' ? named : k, loc, steps, keys);
}

/** A value under `key`: redacted whole when the key has a rule, else swept. */
function under(p: Pass, v: unknown, key: string, loc: () => string, steps: Steps, keys: Keys): unknown {
  const rule = keys === 'plain' ? undefined : ruleOf(p, key);
  return rule ? redactUnder(p, v, key, rule, loc, keys) : sweepNode(p, v, loc, steps, keys);
}

function ruleOf(p: Pass, key: string): Rule | undefined {
  return p.r.keyAllowed(key) ? undefined : p.r.keyRule(key);
}

/**
 * A value under a credential key, whatever its type, redacted as a whole (never dropped: the
 * sweep keeps the shape it found); a cookie header's string by its cookies, as a header is.
 */
function redactUnder(p: Pass, v: unknown, key: string, rule: Rule, loc: () => string, keys: Keys): unknown {
  const kept = rule.action === 'drop' ? { category: rule.category, action: 'mask' as const } : rule;
  if (typeof v === 'string') {
    const out = keys === 'loose' && cookieHeader(key) ? looseHeader(p, key, v, loc()) : p.whole(v, loc, kept);
    return out === DROP ? '' : out;
  }
  const text = typeof v === 'number' || typeof v === 'bigint' ? String(v) : v !== null && typeof v === 'object' ? JSON.stringify(v) : undefined;
  if (text === undefined) return v;
  const out = p.whole(text, loc, kept);
  return out === text ? v : out;
}

/**
 * A header value found where headers were not expected: as a header is read, and a Set-Cookie's
 * attributes through the detectors as well (a well-formed one keeps them readable, but here
 * `session=…; password=…` is as likely).
 */
function looseHeader(p: Pass, name: string, v: string, path: string): Out {
  const out = headerValue(p, name, v, path);
  return out !== DROP && cookieHeader(name) === SET_COOKIE ? p.text(out, path) : out;
}

/** A header line (`Name: value`, the value's spaces around it kept) or an HTTP request or status line. */
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(:[ \t]*)(.*?)([ \t]*)$/;
const START_LINE = /^(?:HTTP\/\d(?:\.\d)?\s|[A-Z]+ \S+ HTTP\/\d)/;

function mayBeHeaderText(s: string): boolean {
  const nl = s.indexOf('\n');
  return HEADER_LINE.test(nl < 0 ? s : s.slice(0, s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl)) || START_LINE.test(s);
}

/** Text that starts like an HTTP message head: each `Name: value` line as a header, other lines as text, a body after a blank line as a string. */
function headerText(p: Pass, s: string, loc: () => string): string {
  const lines = s.split(/(\r?\n)/); // lines at even indexes, each one's end after it
  for (let i = 0; i < lines.length; i += 2) {
    const line = lines[i]!;
    if (line === '' && i > 0) {
      lines.splice(i + 2, lines.length, sweepString(p, lines.slice(i + 2).join(''), loc));
      break;
    }
    const h = HEADER_LINE.exec(line);
    if (!h) {
      lines[i] = p.text(line, loc);
      continue;
    }
    const out = looseHeader(p, h[1]!, h[3]!, `${loc()}.${h[1]}`);
    if (out === DROP) lines[i] = lines[i + 1] = '';
    else if (out !== h[3]) lines[i] = h[1]! + h[2]! + out + h[4]!;
  }
  return lines.join('');
}

function rebuild(p: Pass, o: Record<string, unknown>, ks: string[], from: number, loc: () => string, steps: Steps, keys: Keys): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < from; i++) out[ks[i]!] = o[ks[i]!];
  for (let i = from; i < ks.length; i++) {
    steps.push(ks[i]!);
    out[p.scrub(ks[i]!)] = child(p, o, ks[i]!, loc, steps, keys);
    steps.pop();
  }
  return out;
}

/**
 * A Speedscale token list keeps the original of every value it replaced, base64-encoded, with
 * where it was: `tokenList[id].tokens[].token = { location, replacementValue }`. A value from a
 * credential location (`http.req.headers.Authorization.0`, a cookie, a sensitive query or JSON
 * key, a configured path) is redacted whole whatever it looks like, and remembered so that the
 * list's ids and every other copy are scrubbed too. Runs before the general sweep.
 */
export function redactTokenList(p: Pass, list: unknown, path: string): void {
  if (!list || typeof list !== 'object') return;
  // Findings name an entry by its position: its id may embed the very value (`UNRECOGNIZED:<value>`).
  Object.values(list as Record<string, unknown>).forEach((entry, n) => {
    const tokens = (entry as { tokens?: unknown } | null)?.tokens;
    if (!Array.isArray(tokens)) return;
    tokens.forEach((t, i) => {
      const tok = (t as { token?: unknown } | null)?.token as { location?: unknown; replacementValue?: unknown } | undefined;
      if (!tok || typeof tok !== 'object' || typeof tok.location !== 'string' || typeof tok.replacementValue !== 'string') return;
      const rule = cachedLocationRule(p, tok.location);
      if (!rule) return;
      const rv = tok.replacementValue;
      const encoded = rv.length >= 4 && rv.length % 4 === 0 && isBase64(rv);
      const original = encoded ? Buffer.from(rv, 'base64').toString('utf8') : rv;
      if (!original) return;
      const out = p.whole(original, `${path}.${n}.tokens.${i}.token.replacementValue`, rule.action === 'drop' ? { ...rule, action: 'mask' } : rule);
      const text = out === DROP ? '' : out;
      if (text !== original) tok.replacementValue = encoded ? Buffer.from(text, 'utf8').toString('base64') : text;
    });
  });
}

/** locationRule's answers per Redactor (its rules decide them): token lists repeat the same few locations. */
const locationRules = new WeakMap<Pass['r'], Map<string, Rule | null>>();

function cachedLocationRule(p: Pass, location: string): Rule | undefined {
  let known = locationRules.get(p.r);
  if (!known) locationRules.set(p.r, (known = new Map()));
  let rule = known.get(location);
  if (rule === undefined) {
    rule = locationRule(p, location) ?? null;
    if (known.size >= 10_000) known.clear();
    known.set(location, rule);
  }
  return rule ?? undefined;
}

/** The rule for a token's location (`http.req.headers.Authorization.0`, `http.req.headers.Host[0]`), if it holds a credential. */
function locationRule(p: Pass, location: string): Rule | undefined {
  const normal = location.replace(/\[(\d+)\]/g, '.$1');
  const pr = p.r.pathRule(normal);
  if (pr) return pr;
  const names = normal.split('.').filter((s) => s && !/^\d+$/.test(s) && s !== '$');
  // the named field the value came from: the last name that is not part of the location syntax
  const field = [...names].reverse().find((n) => !STRUCTURE.has(n.toLowerCase()));
  if (field === undefined || p.r.keyAllowed(field)) return undefined;
  const lower = field.toLowerCase();
  if (lower === 'cookie' || lower === 'set-cookie') return { category: 'COOKIE', action: p.r.opts.action };
  return p.r.keyRule(field);
}

/** Location words that name where in an RRPair, not a field. */
const STRUCTURE = new Set(['http', 'req', 'res', 'headers', 'queryparams', 'query', 'body', 'bodybase64', 'json', 'form', 'xml', 'text', 'uri', 'url', 'path', 'multipart']);
