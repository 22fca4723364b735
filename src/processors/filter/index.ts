import type { Component, Consumer, CreateSettings, ProcessorFactory, ConfigProblem } from '../../core/component.js';
import { bool, duration, int, list, num, obj, oneOf, raw, str, strings, type Config } from '../../config/fragments.js';
import type { Context, RecordBatch, RRRecord } from '../../core/record.js';
import { indexDocOf } from '../../rrpair/derive.js';
import type { IndexDoc } from '../../rrpair/index-doc.js';
import { valueAt } from '../../rrpair/path.js';
import { compileLinear } from '../../helpers/linear-regex.js';
import { PartialFailureError, type ItemFailure } from '../../core/errors.js';
import { compileCondition as compileOttl, ERROR_MODES, evalCtx, ottlProblem, OttlRuntimeError, type Condition as OttlCondition } from '../../ottl/index.js';

const INDEX_FIELDS = new Set(['id', 'cluster', 'namespace', 'service', 'direction', 'l7protocol', 'command', 'location', 'status', 'host', 'duration', 'req_size', 'res_size', 'ts']);

type Matcher = (r: RRRecord, doc: IndexDoc) => boolean;

function fieldValue(field: string, r: RRRecord, doc: IndexDoc): unknown {
  if (INDEX_FIELDS.has(field) || field in doc) return doc[field];
  if (field.startsWith('tags.')) {
    const tags = r.rrpair.tags;
    return tags && typeof tags === 'object' ? (tags as Record<string, unknown>)[field.slice(5)] : undefined;
  }
  return valueAt(r, field);
}

function compileCondition(c: Condition): Matcher {
  let test: (v: unknown) => boolean;
  if (c.exact !== undefined) {
    const set = new Set((Array.isArray(c.exact) ? c.exact : [c.exact]).map(String));
    test = (v) => v !== undefined && v !== null && set.has(String(v));
  } else if (c.regex !== undefined) {
    const re = compileLinear(c.regex, 'filter');
    test = (v) => v !== undefined && v !== null && re.test(String(v));
  } else if (c.prefix !== undefined) {
    const p = c.prefix;
    test = (v) => v !== undefined && v !== null && String(v).startsWith(p);
  } else {
    const { min = -Infinity, max = Infinity } = c.range ?? {};
    test = (v) => {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      return !Number.isNaN(n) && n >= min && n <= max;
    };
  }
  const neg = c.negate === true;
  return (r, doc) => test(fieldValue(c.field, r, doc)) !== neg;
}

function compileSet(s: RuleSet | undefined): Matcher | undefined {
  if (!s || s.rules.length === 0) return undefined;
  const ms = s.rules.map(compileCondition);
  return s.match === 'any' ? (r, d) => ms.some((m) => m(r, d)) : (r, d) => ms.every((m) => m(r, d));
}

/**
 * Keeps the records a pipeline wants: include rules, then exclude rules, then sampling (keep N
 * per signature per window of event time). Every record left out is counted as dropped with
 * its reason ("filtered" or "sampled"). Records are not changed.
 */
export class FilterProcessor implements Component, Consumer {
  private readonly dropWhen: { text: string; test: OttlCondition }[];
  private readonly include?: Matcher;
  private readonly exclude?: Matcher;
  private readonly samplers: { when?: Matcher; rule: SampleRule; seen: Map<string, { window: number; n: number }> }[];

  constructor(private readonly s: CreateSettings<FilterConfig>, private readonly next: Consumer) {
    this.dropWhen = (s.config.logs?.log_record ?? []).map((text) => ({ text, test: compileOttl(text) }));
    this.include = compileSet(s.config.include);
    this.exclude = compileSet(s.config.exclude);
    this.samplers = s.config.sample.map((rule) => ({ when: compileSet(rule.when), rule, seen: new Map() }));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Why a record is left out, or undefined when it is kept. */
  verdict(r: RRRecord): 'filtered' | 'sampled' | undefined {
    if (this.dropWhen.length && this.matchesOttl(r)) return 'filtered';
    if (!this.include && !this.exclude && this.samplers.length === 0) return undefined;
    const doc = indexDocOf(r);
    if (this.include && !this.include(r, doc)) return 'filtered';
    if (this.exclude && this.exclude(r, doc)) return 'filtered';
    for (const smp of this.samplers) {
      if (smp.when && !smp.when(r, doc)) continue;
      const t = Date.parse(doc.ts);
      const window = Math.floor((Number.isNaN(t) ? Date.now() : t) / smp.rule.window);
      const key = smp.rule.by.map((f) => String(fieldValue(f, r, doc) ?? '')).join('\u0000');
      let e = smp.seen.get(key);
      if (!e || e.window !== window) {
        if (!e && smp.seen.size >= this.s.config.max_signatures) this.prune(smp.seen, window);
        e = { window, n: 0 };
        smp.seen.set(key, e);
      }
      if (++e.n > smp.rule.keep) return 'sampled';
    }
    return undefined;
  }

  /** OTel filter semantics: dropped when any condition is true (conditions ORed, evaluated in order). */
  private matchesOttl(r: RRRecord): boolean {
    const c = evalCtx(r);
    for (const cond of this.dropWhen) {
      try {
        if (cond.test(c)) return true;
      } catch (err) {
        if (!(err instanceof OttlRuntimeError) || this.s.config.error_mode === 'propagate') throw new OttlFailure(cond.text, err);
        if (this.s.config.error_mode === 'ignore') this.s.logger.warn({ condition: cond.text, err: (err as Error).message }, 'filter: condition failed on a record; treated as false (error_mode: ignore)');
      }
    }
    return false;
  }

  private prune(seen: Map<string, { window: number }>, current: number): void {
    for (const [k, v] of seen) if (v.window !== current) seen.delete(k);
    // still full of current-window signatures: forget the oldest half
    if (seen.size >= this.s.config.max_signatures) {
      let n = Math.ceil(seen.size / 2);
      for (const k of seen.keys()) {
        if (n-- <= 0) break;
        seen.delete(k);
      }
    }
  }

  async consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const out: RecordBatch = [];
    const outIndex: number[] = [];
    const refused: ItemFailure[] = [];
    let filtered = 0;
    let sampled = 0;
    let malformed = 0;
    batch.forEach((r, i) => {
      let v: 'filtered' | 'sampled' | undefined;
      try {
        v = this.verdict(r);
      } catch (err) {
        if (err instanceof OttlFailure) {
          // error_mode: propagate. OTel fails the whole batch; rrpipe refuses only this record,
          // permanently (the same record fails the same way again), and passes the others on.
          refused.push({ index: i, reason: err.message, retryable: false });
          return;
        }
        // A record the rules cannot read is kept: filtering must not lose data by accident.
        malformed++;
        this.s.logger.warn({ err }, 'filter: could not evaluate the rules on a record; keeping it');
      }
      if (v === 'filtered') filtered++;
      else if (v === 'sampled') sampled++;
      else {
        out.push(r);
        outIndex.push(i);
      }
    });
    if (filtered) this.s.metrics.dropped(filtered, 'filtered');
    if (sampled) this.s.metrics.dropped(sampled, 'sampled');
    if (malformed) this.s.metrics.counter('filter_unreadable', 'Records the filter rules could not be evaluated on (kept).').inc({}, malformed);
    if (refused.length) this.s.logger.warn({ records: refused.length, reason: refused[0]!.reason }, 'filter: condition failed; record(s) refused (error_mode: propagate)');
    if (out.length) {
      try {
        await this.next.consume(out, ctx);
      } catch (err) {
        if (!refused.length) throw err;
        if (!(err instanceof PartialFailureError)) throw err;
        for (const f of err.failures) refused.push({ ...f, index: outIndex[f.index]! });
      }
    }
    if (refused.length) throw new PartialFailureError(refused.sort((a, b) => a.index - b.index));
  }
}

/** A condition failed under error_mode: propagate. */
class OttlFailure extends Error {
  constructor(condition: string, cause: unknown) {
    super(`filter condition ${JSON.stringify(condition)} failed: ${(cause as Error).message}`);
  }
}

const scalarOrList = raw<string | number | (string | number)[]>({ type: ['string', 'number', 'array'], items: { type: ['string', 'number'] }, description: 'Equal to this value or one of these values.' });

const condition = obj({
  field: str(undefined, 'cluster, namespace, service, direction, l7protocol, command, location, status, host, duration, tags.<name>, an extra index field, or a path.'),
  exact: scalarOrList,
  regex: str(undefined, 'Matches this regex.'),
  prefix: str(undefined, 'Starts with this.'),
  range: obj({ min: num(), max: num() }, { description: 'A number within [min, max] (inclusive).' }),
  negate: bool(undefined, 'Invert the match.'),
}, { required: ['field'] });

const ruleSet = (description: string) =>
  obj({ match: oneOf(['all', 'any'], 'all', 'all: every rule must match; any: one is enough.'), rules: list(condition, [], 'The conditions.') }, { description });

const schema = obj({
  error_mode: oneOf(ERROR_MODES, 'propagate', 'OTel: what a failing OTTL condition does: propagate (the record is refused), ignore (logged, the condition counts as false), silent (the same, not logged).'),
  logs: obj({
    log_record: strings(undefined, 'OTel: OTTL conditions on the log record; a record matching any of them is dropped.'),
  }, { description: 'OTel: OTTL conditions per signal (rrpipe carries logs only).' }),
  include: ruleSet('Keep only records that match (absent or empty: keep all).'),
  exclude: ruleSet('Drop records that match.'),
  sample: list(obj({
    when: ruleSet('Only records that match are sampled (absent: all).'),
    keep: int(1, 'Records kept per signature per window.', { minimum: 0 }),
    window: duration('1m', 'Window length (event time).'),
    by: strings(['service', 'command', 'location', 'status'], 'Fields that make the signature.'),
  }), [], 'Keep at most `keep` records per signature per window.'),
  max_signatures: int(100_000, 'Most signatures remembered per sample rule (memory bound).', { minimum: 1 }),
});

export type FilterConfig = Config<typeof schema>;
export type RuleSet = NonNullable<FilterConfig['include']>;
export type Condition = RuleSet['rules'][number];
export type SampleRule = FilterConfig['sample'][number];

export const factory: ProcessorFactory<FilterConfig> = {
  kind: 'processor',
  type: 'filter',
  stability: 'beta',
  mutatesData: false,
  description: 'Drops records matching OTTL conditions (OTel form), or keeps/drops by cluster, service, command, location, status, host, tags … and samples repetitive traffic.',
  schema,
  validate: (c) => {
    const problems: ConfigProblem[] = [];
    const checkSet = (s: RuleSet | undefined, path: (string | number)[]) =>
      s?.rules.forEach((r, i) => {
        const kinds = ['exact', 'regex', 'prefix', 'range'].filter((k) => r[k as keyof Condition] !== undefined);
        if (kinds.length !== 1) problems.push({ path: [...path, 'rules', i], message: `give exactly one of exact, regex, prefix, range (got ${kinds.length ? kinds.join(', ') : 'none'})` });
        if (r.regex !== undefined) {
          try {
            compileLinear(r.regex, 'filter');
          } catch (err) {
            problems.push({ path: [...path, 'rules', i, 'regex'], message: (err as Error).message });
          }
        }
      });
    (c.logs?.log_record ?? []).forEach((text, i) => {
      try {
        compileOttl(text);
      } catch (err) {
        problems.push(ottlProblem(err, text, ['logs', 'log_record', i]));
      }
    });
    checkSet(c.include, ['include']);
    checkSet(c.exclude, ['exclude']);
    c.sample.forEach((s, i) => {
      checkSet(s.when, ['sample', i, 'when']);
      if (s.window <= 0) problems.push({ path: ['sample', i, 'window'], message: 'window must be positive' });
    });
    return problems;
  },
  create: (s, next) => new FilterProcessor(s, next),
};
