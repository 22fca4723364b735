import { RE2JS } from 're2js';

/**
 * Regexes in OTTL and the attributes/filter processors are Go regexp (RE2) syntax. re2js is the
 * JavaScript port of RE2: the same syntax as the OTel Collector ((?P<name>…), (?i), \pL …) and
 * matching in time linear in the input, so a pattern from a config cannot stall the event loop
 * with catastrophic backtracking. Backreferences and lookaround are refused when compiling, as in Go.
 */
export interface Regex {
  /** Unanchored search, like Go's MatchString. */
  test(s: string): boolean;
  /** Named groups of the first match (unmatched groups as ""), or undefined when nothing matches. */
  namedGroups(s: string): Record<string, string> | undefined;
  /** Names of the capture groups, in order; "" for an unnamed group. */
  groupNames: string[];
  source: string;
}

export function compileRegex(pattern: string): Regex {
  const re = RE2JS.compile(pattern);
  const named = re.namedGroups() as Record<string, number>;
  const count = re.groupCount();
  const groupNames = Array.from({ length: count }, () => '');
  for (const [name, idx] of Object.entries(named)) groupNames[idx - 1] = name;
  return {
    source: pattern,
    groupNames,
    test: (s) => re.matcher(s).find(),
    namedGroups: (s) => {
      const m = re.matcher(s);
      if (!m.find()) return undefined;
      const out: Record<string, string> = {};
      for (const [name, idx] of Object.entries(named)) out[name] = m.group(idx) ?? '';
      return out;
    },
  };
}

/** The compile error of a pattern, or undefined when it is valid RE2. */
export function regexProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
