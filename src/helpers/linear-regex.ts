import { RE2JS } from 're2js';

/**
 * Regexes that come from users (query filters) are matched with RE2JS, a port of RE2: matching
 * time is linear in the input, so a pattern like `^(.*){10}Z$` cannot freeze the daemon the way a
 * backtracking engine (JavaScript's RegExp, used by SQLite's REGEXP before) can. RE2 has no
 * backreferences and no lookaround; such patterns are refused with the reason.
 */
export interface LinearRegex {
  readonly source: string;
  /** True when the pattern matches somewhere in s (RegExp.test semantics). */
  test(s: string): boolean;
}

export class UnsupportedRegexError extends Error {}

export function compileLinear(source: string, what = 'pattern'): LinearRegex {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    const msg = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new UnsupportedRegexError(
      `invalid ${what} regex "${source}": ${msg} (patterns are matched by RE2 in linear time: no backreferences, no lookahead or lookbehind)`,
    );
  }
  return { source, test: (s) => re.matcher(s).find() };
}

const cache = new Map<string, LinearRegex>();

/** compileLinear with a small cache, for per-row matching (SQLite REGEXP). */
export function cachedLinear(source: string): LinearRegex {
  let re = cache.get(source);
  if (!re) {
    re = compileLinear(source);
    if (cache.size > 100) cache.clear();
    cache.set(source, re);
  }
  return re;
}
