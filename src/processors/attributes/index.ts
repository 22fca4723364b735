import type { Component, ConfigProblem, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { bool, int, list, obj, oneOf, raw, str, strings, type Config } from '../../config/fragments.js';
import type { Context, RecordBatch, RRRecord } from '../../core/record.js';
import { compileRegex, regexProblem } from '../../ottl/index.js';
import { asString, equal } from '../../ottl/values.js';
import { actionSchema, compileActions, validateActions, type AttrAction } from '../internal/attraction/index.js';

type Matcher = (r: RRRecord) => boolean;

/** A text matcher of filterset: strict equality or an unanchored RE2 match. */
function textMatcher(kind: MatchConfig['match_type'], items: string[]): (s: string) => boolean {
  if (kind === 'strict') {
    const set = new Set(items);
    return (s) => set.has(s);
  }
  const res = items.map(compileRegex);
  return (s) => res.some((re) => re.test(s));
}

/** Every listed attribute must match: present (no value given), equal (strict), or its text matching (regexp). */
function attrsMatcher(kind: MatchConfig['match_type'], kvs: KeyValue[], of: (r: RRRecord) => Record<string, unknown>): Matcher {
  const checks = kvs.map((kv) => {
    if (kv.value === undefined) return (a: Record<string, unknown>) => Object.prototype.hasOwnProperty.call(a, kv.key);
    if (kind === 'strict') return (a: Record<string, unknown>) => Object.prototype.hasOwnProperty.call(a, kv.key) && equal(a[kv.key], kv.value);
    const re = compileRegex(String(kv.value));
    return (a: Record<string, unknown>) => {
      const s = asString(a[kv.key]);
      return s !== undefined && re.test(s);
    };
  });
  return (r) => {
    const a = of(r);
    return checks.every((c) => c(a));
  };
}

/** OTel filtermatcher semantics for logs: every property given must match. rrpipe records carry no severity (0, ""). */
export function compileMatch(m: MatchConfig | undefined): Matcher | undefined {
  if (!m) return undefined;
  const parts: Matcher[] = [];
  if (m.attributes?.length) parts.push(attrsMatcher(m.match_type, m.attributes, (r) => r.attributes));
  if (m.resources?.length) parts.push(attrsMatcher(m.match_type, m.resources, (r) => r.resource));
  if (m.log_bodies?.length) {
    const t = textMatcher(m.match_type, m.log_bodies);
    parts.push((r) => t(asString(r.rrpair)!));
  }
  if (m.log_severity_texts?.length) {
    const t = textMatcher(m.match_type, m.log_severity_texts);
    parts.push(() => t(''));
  }
  if (m.log_severity_number) {
    const undef = m.log_severity_number.match_undefined === true;
    parts.push(() => undef);
  }
  return (r) => parts.every((p) => p(r));
}

const kvList = (what: string) => list(obj({ key: str(), value: raw<string | number | boolean>({ type: ['string', 'number', 'boolean'] }) }, { required: ['key'] }), undefined, what);

export function matchSchema(description: string) {
  return (obj({
    match_type: oneOf(['strict', 'regexp'], undefined, 'How values are compared: strict equality or an RE2 regex (unanchored).'),
    attributes: kvList('Log attributes that must all match (no value: the key must be present).'),
    resources: kvList('Resource attributes that must all match.'),
    log_bodies: strings(undefined, 'The body (the RRPair, as JSON) must match one of these.'),
    log_severity_texts: strings(undefined, 'The severity text must match one of these (rrpipe records have none: "").'),
    log_severity_number: (obj({ min: int(undefined, 'Lowest severity number.'), match_undefined: bool(undefined, 'Match records without a severity (every rrpipe record).') })),
    regexp: (obj({ cacheenabled: bool(undefined, 'Accepted for OTel compatibility; not used.'), cachemaxnumentries: int(undefined, 'Accepted for OTel compatibility; not used.') })),
  }, { required: ['match_type'], description }));
}

export type MatchConfig = Config<ReturnType<typeof matchSchema>>;
type KeyValue = NonNullable<MatchConfig['attributes']>[number];

export function validateMatch(m: MatchConfig | undefined, path: string): ConfigProblem[] {
  if (!m) return [];
  const problems: ConfigProblem[] = [];
  if (!m.attributes?.length && !m.resources?.length && !m.log_bodies?.length && !m.log_severity_texts?.length && !m.log_severity_number) {
    problems.push({ path: [path], message: 'give at least one of attributes, resources, log_bodies, log_severity_texts, log_severity_number' });
  }
  if (m.match_type === 'regexp') {
    const check = (items: unknown[] | undefined, key: string, get: (x: never) => unknown) =>
      items?.forEach((x, i) => {
        const v = get(x as never);
        if (v === undefined) return;
        const bad = regexProblem(String(v));
        if (bad) problems.push({ path: [path, key, i], message: `invalid regex (RE2 syntax): ${bad}` });
      });
    check(m.attributes, 'attributes', (x: KeyValue) => x.value);
    check(m.resources, 'resources', (x: KeyValue) => x.value);
    check(m.log_bodies, 'log_bodies', (x: string) => x);
    check(m.log_severity_texts, 'log_severity_texts', (x: string) => x);
  }
  return problems;
}

/** The OTel attributes processor on log attributes: actions in order, on the records include/exclude select. */
export class AttributesProcessor implements Component, Consumer {
  private readonly run: AttrAction;
  private readonly include?: Matcher;
  private readonly exclude?: Matcher;

  constructor(s: CreateSettings<AttributesConfig>, private readonly next: Consumer) {
    this.run = compileActions(s.config.actions);
    this.include = compileMatch(s.config.include);
    this.exclude = compileMatch(s.config.exclude);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    for (const r of batch) {
      if (this.include && !this.include(r)) continue;
      if (this.exclude && this.exclude(r)) continue;
      this.run(r.attributes as Record<string, unknown>, ctx);
    }
    return this.next.consume(batch, ctx);
  }
}

const schema = obj({
  actions: list(actionSchema(), [], 'The actions, applied in order.'),
  include: matchSchema('Act only on records that match.'),
  exclude: matchSchema('Do not act on records that match (checked after include).'),
});

export type AttributesConfig = Config<typeof schema>;

export const factory: ProcessorFactory<AttributesConfig> = {
  kind: 'processor',
  type: 'attributes',
  stability: 'beta',
  mutatesData: true,
  description: 'OTel attributes processor: insert, update, upsert, delete, hash, extract, convert log attributes, with include/exclude.',
  schema,
  validate: (c) => {
    const problems = validateActions(c.actions, ['actions']);
    if (c.actions.length === 0) problems.push({ path: ['actions'], message: 'give at least one action' });
    return [...problems, ...validateMatch(c.include, 'include'), ...validateMatch(c.exclude, 'exclude')];
  },
  create: (s, next) => new AttributesProcessor(s, next),
};
