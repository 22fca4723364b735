import { isCardNumber } from '../detectors.js';
import { formatJsonPath } from '../../../rrpair/path.js';
import type { Pass } from '../pass.js';
import { DROP } from './out.js';

/** Walk a JSON value: keys by the key rules, strings and numbers by the detectors. */
export function walkJson(p: Pass, v: unknown, base: string, steps: (string | number)[], key: string | undefined): unknown | typeof DROP {
  const path = () => (base.endsWith('.json') ? `${base}.${formatJsonPath(steps)}` : [base, ...steps].join('.'));
  if (typeof v === 'string') return p.value(v, key, path);
  if (typeof v === 'number') {
    if (key !== undefined && p.r.keyAllowed(key)) return v;
    const rule = (key !== undefined ? p.r.keyRule(key) : undefined) ?? (p.r.hasPathRules ? p.r.pathRule(path()) : undefined);
    if (rule) return p.whole(String(v), path, rule);
    if (p.r.opts.detectors.credit_card !== false && Number.isSafeInteger(v) && v > 1e12 && isCardNumber(String(v))) {
      return p.hit(path, 'CREDIT_CARD', String(v), p.r.opts.action);
    }
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  if (key !== undefined && !p.r.keyAllowed(key)) {
    const rule = (p.r.hasPathRules ? p.r.pathRule(path()) : undefined) ?? p.r.keyRule(key);
    if (rule) return p.whole(JSON.stringify(v), path, rule);
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    v.forEach((x, i) => {
      const r = walkJson(p, x, base, [...steps, i], key);
      if (r !== DROP) out.push(r);
    });
    return out;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const r = walkJson(p, o[k], base, [...steps, k], k);
    if (r === DROP) delete o[k];
    else o[k] = r;
  }
  return o;
}
