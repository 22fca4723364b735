/** What a walker returns for a value to remove. */
export const DROP = Symbol('drop');
export type Out = string | typeof DROP;

/** A location, computed only when something is found there. */
export type Loc = string | (() => string);
export const at = (l: Loc): string => (typeof l === 'string' ? l : l());
export const sub = (l: Loc, suffix: string): Loc => (typeof l === 'string' ? l + suffix : () => l() + suffix);

export interface Rule {
  category: string;
  action: 'mask' | 'hash' | 'drop';
}

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function isHeaders(h: unknown): h is import('../../../rrpair/types.js').Headers {
  return typeof h === 'object' && h !== null && !Array.isArray(h);
}
