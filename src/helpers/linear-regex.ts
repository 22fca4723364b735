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
  /** s with every non-overlapping match, left to right, replaced by what `by` returns for it. */
  replace(s: string, by: (match: string, offset: number) => string): string;
}

export class UnsupportedRegexError extends Error {}

export function compileLinear(source: string, what = 'pattern', opts: { ignoreCase?: boolean } = {}): LinearRegex {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    const msg = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new UnsupportedRegexError(
      `invalid ${what} regex "${source}": ${msg} (patterns are matched by RE2 in linear time: no backreferences, no lookahead or lookbehind)`,
    );
  }
  return {
    source,
    test: (s) => re.matcher(s).find(),
    replace(s, by) {
      const m = re.matcher(s);
      let out = '';
      let at = 0;
      while (m.find()) {
        out += s.slice(at, m.start()) + by(m.group()!, m.start());
        at = m.end();
      }
      return out + s.slice(at);
    },
  };
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
