import { randomBytes } from 'node:crypto';
import type { TBoolean } from '@sinclair/typebox';
import type { Component, Consumer, CreateSettings, InputProtector, ProcessorFactory } from '../../core/component.js';
import { bool, bytes, list, obj, oneOf, secret, str, strings, withDefault, type Config, type Defaulted } from '../../config/fragments.js';
import type { Context, RecordBatch } from '../../core/record.js';
import { DETECTOR_NAMES, type DetectorName } from './detectors.js';
import { Redactor, type Action } from './redactor.js';

/**
 * Redacts credentials and personal data from every RRPair before it reaches a backend. Fails
 * closed: a record that cannot be redacted is dropped (and counted), never passed on unread.
 */
export class RedactionProcessor implements Component, Consumer, InputProtector {
  readonly redactor: Redactor;
  private readonly redactedCounter;
  private readonly bodyCounter;

  constructor(private readonly s: CreateSettings<RedactionConfig>, private readonly next: Consumer) {
    const c = s.config;
    let secret = c.secret;
    if (!secret) {
      secret = randomBytes(32).toString('hex');
      s.logger.warn('redaction: no secret configured; using a random one, so masked values correlate only within this process run');
    }
    this.redactor = new Redactor({ ...c, secret });
    this.redactedCounter = s.metrics.counter('redaction_values', 'Values redacted, by category.', ['category']);
    this.bodyCounter = s.metrics.counter('redaction_bodies_replaced', 'Bodies replaced whole without being parsed (invalid base64, over max_body_size), by reason.', ['reason']);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  protectText(text: string): string {
    return this.redactor.redactText(text).text;
  }

  protectRRPair(rrpair: unknown): unknown {
    if (!rrpair || typeof rrpair !== 'object') return rrpair;
    const copy = structuredClone(rrpair) as Parameters<Redactor['redact']>[0];
    this.redactor.redact(copy);
    return copy;
  }

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const out: RecordBatch = [];
    let failed = 0;
    for (const r of batch) {
      try {
        const rr = r.rrpair;
        if (!rr || typeof rr !== 'object') throw new TypeError('record has no RRPair object');
        const res = this.redactor.redact(rr);
        if (res.findings.length) {
          rr.dlpModified = true;
          rr.dlpRule = this.s.config.rule_set;
          delete r.sizeHint;
          const byCat = new Map<string, number>();
          for (const f of res.findings) byCat.set(f.category, (byCat.get(f.category) ?? 0) + 1);
          for (const [category, n] of byCat) this.redactedCounter.inc({ category }, n);
          if (this.s.config.summary_attribute) {
            const seen = new Set<string>();
            const summary = res.findings.filter((f) => {
              const k = `${f.path}\u0000${f.category}`;
              return seen.has(k) ? false : (seen.add(k), true);
            });
            r.attributes[this.s.config.summary_attribute] = JSON.stringify(summary);
          }
        }
        for (const b of res.bodiesReplaced) this.bodyCounter.inc({ reason: b.reason });
        out.push(r);
      } catch (err) {
        failed++;
        this.s.logger.error({ err }, 'redaction: could not redact a record; dropping it rather than passing it on unredacted');
      }
    }
    if (failed) this.s.metrics.dropped(failed, 'redaction_failed');
    if (out.length === 0) return Promise.resolve();
    return this.next.consume(out, ctx);
  }
}

const action = (def?: Action) => oneOf(['mask', 'hash', 'drop'], def, 'mask: REDACTED-<CATEGORY>-<20 hex of HMAC-SHA256>; hash: the 20 hex alone; drop: remove the field.');

const ruleSchema = obj({
  name: str(undefined, 'Rule name; the default category.'),
  key: str(undefined, 'Regex (case-insensitive) on key names: headers, query/form fields, cookies, JSON keys, XML elements.'),
  path: str(undefined, 'A location: http.req.headers.X-Api-Key, http.res.body.json.$.user.ssn, or $.user.ssn for any JSON body.'),
  value: str(undefined, 'Regex on values; every match is replaced.'),
  category: str(undefined, 'Category written in the replacement (default: the name, else CUSTOM).'),
  action: action(),
});

const detectors = Object.fromEntries(DETECTOR_NAMES.map((n) => [n, bool(true, `Find ${n.replace(/_/g, ' ')} values.`)])) as Record<DetectorName, Defaulted<TBoolean>>;

const schema = obj({
  secret: withDefault(secret('HMAC-SHA256 key for mask/hash, so equal values stay correlatable; empty: a random key per process (with a warning).'), ''),
  action: action('mask'),
  rule_set: str('rrpipe-default', 'Written to dlpRule on every redacted RRPair.'),
  detectors: obj(detectors, { default: {} }),
  sensitive_keys: bool(true, 'Redact values under keys named like authorization, cookie, set-cookie, password, secret, token, api-key, x-amz-security-token.'),
  keys: strings([], 'More key-name regexes whose values are redacted.'),
  rules: list(ruleSchema, [], 'Custom rules by key, path or value regex.'),
  allow: obj({
    keys: strings([], 'Key-name regexes never redacted (allow wins over every rule).'),
    values: strings([], 'Value regexes (whole value) never redacted.'),
  }, { default: {} }),
  max_body_size: bytes('16MiB', 'Largest (decoded, decompressed) body parsed; larger ones are handled by oversize_body.'),
  oversize_body: oneOf(['mask', 'drop'], 'mask', 'A body over max_body_size is replaced whole by a mask, or removed.'),
  keep_auth_scheme: bool(true, 'Keep "Bearer " / "Basic " in front of a redacted credential.'),
  summary_attribute: str('', 'When set, a record attribute of this name gets a JSON list of what was redacted (paths and categories, never values).'),
});

/** The processor's config; the Redactor takes the same object (RedactorOptions is this type). */
export type RedactionConfig = Config<typeof schema>;

export const factory: ProcessorFactory<RedactionConfig> = {
  kind: 'processor',
  type: 'redaction',
  stability: 'beta',
  mutatesData: true,
  description: 'Masks, hashes or drops credentials and personal data in headers, URLs, cookies, bodies and SQL (DLP).',
  schema,
  validate: (c) => {
    const problems: { path: (string | number)[]; message: string }[] = [];
    const check = (re: string | undefined, path: (string | number)[]) => {
      if (re === undefined) return;
      try {
        new RegExp(re);
      } catch (err) {
        problems.push({ path, message: `invalid regex: ${(err as Error).message}` });
      }
    };
    c.keys.forEach((k, i) => check(k, ['keys', i]));
    c.allow.keys.forEach((k, i) => check(k, ['allow', 'keys', i]));
    c.allow.values.forEach((k, i) => check(k, ['allow', 'values', i]));
    c.rules.forEach((r, i) => {
      if (!r.key && !r.path && !r.value) problems.push({ path: ['rules', i], message: 'a rule needs key, path or value' });
      check(r.key, ['rules', i, 'key']);
      check(r.value, ['rules', i, 'value']);
    });
    return problems;
  },
  create: (s, next) => new RedactionProcessor(s, next),
};
