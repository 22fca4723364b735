import type { RRRecord } from '../core/record.js';
import { buildIndexDoc } from '../rrpair/derive.js';

/** The filter processor's fields; each a list of accepted values ("*" globs allowed). */
export const FILTER_FIELDS = ['cluster', 'namespace', 'service', 'direction', 'l7protocol', 'command', 'location', 'status'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
export type RecordFilterConfig = Partial<Record<FilterField, string[]>>;

function globRe(p: string): RegExp {
  return new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** A predicate over records, or undefined when the config filters nothing. */
export function compileFilter(cfg: RecordFilterConfig | undefined): ((r: RRRecord) => boolean) | undefined {
  const test = compileDocFilter(cfg);
  return test && ((r) => test(buildIndexDoc(r)));
}

/** The same predicate over an index document (a short-term store's hit). */
export function compileDocFilter(cfg: RecordFilterConfig | undefined): ((doc: Partial<Record<FilterField, unknown>>) => boolean) | undefined {
  const tests: [FilterField, RegExp[]][] = [];
  for (const f of FILTER_FIELDS) {
    const vals = cfg?.[f];
    if (vals && vals.length) tests.push([f, vals.map(globRe)]);
  }
  if (!tests.length) return undefined;
  return (doc) => tests.every(([f, res]) => res.some((re) => re.test(valueOf(doc, f))));
}

/** Identity fields a record leaves unset are "unknown", as the archive's partitions name them (service=unknown). */
const NAMED_UNKNOWN: ReadonlySet<FilterField> = new Set(['cluster', 'namespace', 'service']);

function valueOf(doc: Partial<Record<FilterField, unknown>>, f: FilterField): string {
  const v = String(doc[f] ?? '');
  return v === '' && NAMED_UNKNOWN.has(f) ? 'unknown' : v;
}

/** Exact service names (no globs), so a native listing can go straight to service= partitions. */
export function exactServices(cfg: RecordFilterConfig | undefined): string[] | undefined {
  const s = cfg?.service;
  if (!s?.length || s.some((v) => v.includes('*'))) return undefined;
  return s;
}
