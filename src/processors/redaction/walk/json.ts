import { isCardNumber } from '../detectors.js';
import { formatJsonPath } from '../../../rrpair/path.js';
import type { Pass } from '../pass.js';
import { DROP, type Loc } from './out.js';

type Steps = (string | number)[];

/** Walk a JSON value: keys by the key rules, strings and numbers by the detectors. */
export function walkJson(p: Pass, v: unknown, base: string, steps: Steps, key: string | undefined): unknown | typeof DROP {
  // One location function for the whole walk, over a shared stack of steps: it is valid while
  // the walk is at a node, which is when the walkers call it (never later).
  const json = base.endsWith('.json');
  const path = () => (json ? `${base}.${formatJsonPath(steps)}` : [base, ...steps].join('.'));
  return walkNode(p, v, path, steps, key);
}

function walkNode(p: Pass, v: unknown, path: Loc & (() => string), steps: Steps, key: string | undefined): unknown | typeof DROP {
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
    // in place; elements dropped are removed after the walk
    let dropped = 0;
    for (let i = 0; i < v.length; i++) {
      steps.push(i);
      const r = walkNode(p, v[i], path, steps, key);
      steps.pop();
      if (r === DROP) dropped++;
      if (r !== v[i]) v[i] = r;
    }
    return dropped ? v.filter((x) => x !== DROP) : v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const cur = o[k];
    steps.push(k);
    const r = walkNode(p, cur, path, steps, k);
    steps.pop();
    if (r === DROP) delete o[k];
    else if (r !== cur) o[k] = r;
  }
  return o;
}
