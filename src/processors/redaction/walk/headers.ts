import type { Headers } from '../../../rrpair/types.js';
import type { Pass } from '../pass.js';
import { DROP, type Out } from './out.js';

/** Headers (and query parameters, which have the same shape): each value by its name. */
export function walkHeaders(p: Pass, h: Headers, base: string): void {
  for (const name of Object.keys(h)) {
    const vals = h[name];
    if (!Array.isArray(vals)) {
      if (typeof vals === 'string') {
        const out = header(p, name, vals, `${base}.${name}.0`);
        if (out === DROP) delete h[name];
        else h[name] = [out] as never;
      }
      continue;
    }
    // in place; values dropped are removed after the walk
    let dropped = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (typeof v !== 'string') continue;
      const r = header(p, name, v, `${base}.${name}.${i}`);
      if (r === DROP) {
        vals[i] = DROP as never;
        dropped++;
      } else vals[i] = r;
    }
    if (dropped === 0) continue;
    if (dropped === vals.length) delete h[name];
    else h[name] = vals.filter((v) => (v as unknown) !== DROP);
  }
}

function header(p: Pass, name: string, v: string, path: string): Out {
  const lower = name.toLowerCase();
  if (p.r.keyAllowed(name)) return v;
  if (!p.r.pathRule(path) && (lower === 'cookie' || lower === 'set-cookie')) return cookies(p, v, path, lower === 'set-cookie');
  return p.value(v, name, path);
}

/** Cookie: every pair's value; Set-Cookie: the first pair's value (attributes stay readable). */
export function cookies(p: Pass, v: string, path: string, setCookie: boolean): Out {
  const parts = v.split(';');
  const n = setCookie ? 1 : parts.length;
  for (let i = 0; i < n; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const val = part.slice(eq + 1);
    if (!val.trim() || p.r.keyAllowed(name)) continue;
    const out = p.whole(val.trim(), `${path}.${name}`, { category: 'COOKIE', action: p.r.opts.action === 'drop' ? 'mask' : p.r.opts.action });
    parts[i] = `${part.slice(0, eq + 1)}${out === DROP ? '' : out}`;
  }
  return parts.join(';');
}
