import { base64MayBeText, bodyKind, isBase64, looksLikeText, utf8OrUndefined } from '../../../rrpair/body.js';
import type { Pass } from '../pass.js';
import { walkBodyText } from './body.js';
import { DROP, type Rule } from './out.js';

/** Other fields: strings scrubbed and run through the detectors, base64 text looked into, keys scrubbed. */
export function sweep(p: Pass, v: unknown, path: string): unknown {
  // One location function over a shared stack of steps (`path.k.0`), called only when something
  // is found, while the walk is at that node: no path string is built per node.
  const steps: (string | number)[] = [];
  const loc = () => (steps.length ? `${path}.${steps.join('.')}` : path);
  return sweepNode(p, v, loc, steps);
}

function sweepNode(p: Pass, v: unknown, loc: () => string, steps: (string | number)[]): unknown {
  if (typeof v === 'string') {
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
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      steps.push(i);
      v[i] = sweepNode(p, v[i], loc, steps);
      steps.pop();
    }
    return v;
  }
  if (v && typeof v === 'object') {
    // in place while no key needs scrubbing; a scrubbed key rebuilds the object in key order
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (p.scrub(k) !== k) return rebuild(p, o, keys, i, loc, steps);
      steps.push(k);
      o[k] = sweepNode(p, o[k], loc, steps);
      steps.pop();
    }
    return o;
  }
  return v;
}

function rebuild(p: Pass, o: Record<string, unknown>, keys: string[], from: number, loc: () => string, steps: (string | number)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < from; i++) out[keys[i]!] = o[keys[i]!];
  for (let i = from; i < keys.length; i++) {
    steps.push(keys[i]!);
    out[p.scrub(keys[i]!)] = sweepNode(p, o[keys[i]!], loc, steps);
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
