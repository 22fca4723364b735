import type { Pass } from '../pass.js';
import { DROP } from './out.js';

/** XML: elements and attributes named like credentials, then the detectors on everything. */
export function walkXml(p: Pass, text: string, path: string): string {
  let out = text.replace(/<((?:[\w.-]+:)?([\w.-]+))(\s[^>]*)?>([^<]*)<\/\1>/g, (m, tag: string, local: string, attrs: string | undefined, inner: string) => {
    if (!inner.trim() || p.r.keyAllowed(local)) return m;
    const rule = p.r.keyRule(local);
    if (!rule) return m;
    const w = p.whole(inner, `${path}.${local}`, rule);
    return `<${tag}${attrs ?? ''}>${w === DROP ? '' : w}</${tag}>`;
  });
  out = out.replace(/(\s)([\w:.-]+)=("([^"]*)"|'([^']*)')/g, (m, sp: string, name: string, _q: string, dq?: string, sq?: string) => {
    const v = dq ?? sq ?? '';
    const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
    if (!v || p.r.keyAllowed(local)) return m;
    const rule = p.r.keyRule(local);
    if (!rule) return m;
    const w = p.whole(v, `${path}.@${local}`, rule);
    const rep = w === DROP ? '' : w;
    return `${sp}${name}=${dq !== undefined ? `"${rep}"` : `'${rep}'`}`;
  });
  return p.text(out, path, false);
}
