import { randomBytes } from 'node:crypto';
import type { TBoolean } from '@sinclair/typebox';
import type { Component, Consumer, CreateSettings, InputProtector, ProcessorFactory } from '../../core/component.js';
import { bool, bytes, list, obj, oneOf, raw, secret, str, strings, withDefault, type Config, type Defaulted } from '../../config/fragments.js';
import { ShutdownError } from '../../core/errors.js';
import { newRecord, rrpairJsonOf, withRRPairJson, type Context, type RecordBatch, type RRRecord } from '../../core/record.js';
import { JsonPacker, packed, type JsonPack } from '../../helpers/json-pack.js';
import { InOrder } from '../../helpers/worker-pool-order.js';
import { isolateFailures, poolSize, WorkerPool } from '../../helpers/worker-pool.js';
import { KNOWN_RRPAIR_KEYS } from '../../rrpair/otlp.js';
import type { RRPair } from '../../rrpair/types.js';
import { DETECTOR_NAMES, type DetectorName } from './detectors.js';
import { Redactor, type Action } from './redactor.js';
import { compileLinear } from '../../helpers/linear-regex.js';
import type { InflatedBody } from '../../rrpair/body.js';
import { BodyInflater } from './inflate.js';

/**
 * Inflated bytes of a batch's gzip bodies gunzipped ahead in a worker thread, all held until the
 * batch is redacted; bodies past it are gunzipped one at a time on the event loop.
 */
const INFLATE_AHEAD = 16 << 20;

/** What redacting one RRPair found; the same inline and in a pool worker (so it is cloneable). */
interface Outcome {
  /** Values redacted, per category. */
  categories?: [string, number][];
  /** The summary_attribute value. */
  summary?: string;
  /** Reasons of the bodies replaced whole. */
  replaced?: string[];
  error?: Error;
}

/** Redacts one RRPair in place; a failure is returned, never thrown. */
function redactOne(redactor: Redactor, rr: unknown, c: RedactionConfig, inflated?: ReadonlyMap<object, InflatedBody>): Outcome {
  try {
    if (!rr || typeof rr !== 'object') throw new TypeError('record has no RRPair object');
    const res = redactor.redact(rr as RRPair, inflated);
    const o: Outcome = {};
    if (res.findings.length) {
      (rr as RRPair).dlpModified = true;
      (rr as RRPair).dlpRule = c.rule_set;
      const byCat = new Map<string, number>();
      for (const f of res.findings) byCat.set(f.category, (byCat.get(f.category) ?? 0) + 1);
      o.categories = [...byCat];
      if (c.summary_attribute) {
        const seen = new Set<string>();
        const summary = res.findings.filter((f) => {
          const k = `${f.path}\u0000${f.category}`;
          return seen.has(k) ? false : (seen.add(k), true);
        });
        o.summary = JSON.stringify(summary);
      }
    }
    if (res.bodiesReplaced.length) o.replaced = res.bodiesReplaced.map((b) => b.reason);
    return o;
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** A pool batch: the RRPairs' JSON packed (a skipped record has an empty span). */
type PoolBatch = JsonPack;
/**
 * Back come the redacted RRPairs' JSON packed (an empty span: unchanged or skipped), what was
 * found, and for each changed RRPair those of KNOWN_RRPAIR_KEYS whose value changed (null: none),
 * so that the values a record knows without parsing (rrpairField) stay known for the others.
 */
interface PoolResult { pack: JsonPack; outcomes: (Outcome | null)[]; changedKnown: (string[] | null)[] }

/** The values of KNOWN_RRPAIR_KEYS, read before redacting (an object's by reference). */
function knownValues(rr: unknown): unknown[] | undefined {
  return rr && typeof rr === 'object' ? KNOWN_RRPAIR_KEYS.map((k) => (rr as Record<string, unknown>)[k]) : undefined;
}

/** Those of KNOWN_RRPAIR_KEYS whose value is no longer `before`'s; null when none. */
function changedKnownKeys(before: unknown[] | undefined, rr: unknown): string[] | null {
  let out: string[] | null = null;
  if (before) for (let i = 0; i < KNOWN_RRPAIR_KEYS.length; i++) if ((rr as Record<string, unknown>)[KNOWN_RRPAIR_KEYS[i]!] !== before[i]) (out ??= []).push(KNOWN_RRPAIR_KEYS[i]!);
  return out;
}

/**
 * The batch function a pool worker runs (worker-pool.ts loads it by this module's path). The
 * RRPairs cross as JSON packed in one transferred buffer each way (see JsonPacker): the main
 * thread sends the JSON a record arrived with, unparsed, and gets back JSON it can hand to the
 * exporter as it is; a record redaction did not change comes back empty and is kept as it was.
 */
export function poolBatchRedactor(c: RedactionConfig): (batch: PoolBatch) => PoolResult & { transfer: ArrayBuffer[] } {
  const redactor = new Redactor(c);
  return (batch) => {
    const n = batch.ends.length;
    const outcomes: (Outcome | null)[] = new Array(n).fill(null);
    const changedKnown: (string[] | null)[] = new Array(n).fill(null);
    const out = new JsonPacker(n, batch.bytes.length + 1024 * n);
    for (let i = 0; i < n; i++) {
      const json = packed(batch, i);
      if (json.length === 0) {
        out.skip();
        continue;
      }
      const line = json.toString('utf8');
      const rr: unknown = JSON.parse(line);
      const before = knownValues(rr);
      const o = redactOne(redactor, rr, c);
      outcomes[i] = o;
      const text = o.error ? undefined : JSON.stringify(rr);
      if (text === undefined || text === line) out.skip();
      else {
        out.addString(text);
        changedKnown[i] = changedKnownKeys(before, rr);
      }
    }
    const { pack, transfer } = out.finish();
    return { pack, outcomes, changedKnown, transfer };
  };
}

/**
 * Redacts credentials and personal data from every RRPair before it reaches a backend. Fails
 * closed: a record that cannot be redacted is dropped (and counted), never passed on unread.
 */
export class RedactionProcessor implements Component, Consumer, InputProtector {
  readonly redactor: Redactor;
  /** Set when `workers` is not 0: records are redacted in worker threads. */
  readonly pool?: WorkerPool;
  /** Without a pool, with gunzip_thread: gunzips each batch's gzip bodies in a worker thread before redacting on the event loop. */
  private readonly inflater?: BodyInflater;
  private readonly order = new InOrder();
  private readonly inFlight = new Set<Promise<void>>();
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
    // gunzip_thread asks for redaction on the event loop, so `auto` then starts no workers.
    const size = c.workers === 'auto' && c.gunzip_thread ? 0 : poolSize(c.workers);
    if (size > 0) {
      // No resourceLimits: a worker that reaches its heap limit can take the whole process down
      // (measured on Node 20: a JSON.parse past a 48 MiB maxOldGenerationSizeMb was V8's fatal
      // out-of-memory, not the worker's end), so the heaps keep V8's default limit and
      // memory_limiter refuses data before a worker's heap nears it.
      this.pool = new WorkerPool({ module: import.meta.url, factory: 'poolBatchRedactor', init: { ...c, secret }, size, name: `redaction ${s.id}` });
      if (c.gunzip_thread) s.logger.warn('redaction: gunzip_thread is not used with workers (the workers gunzip the bodies they redact)');
    } else if (c.gunzip_thread) {
      this.inflater = new BodyInflater(c.max_body_size, INFLATE_AHEAD, `redaction ${s.id} gunzip`, (err) =>
        s.logger.warn({ err }, 'redaction: no worker thread to gunzip bodies in; gunzipping them on the event loop'));
    }
    this.redactedCounter = s.metrics.counter('redaction_values', 'Values redacted, by category.', ['category']);
    this.bodyCounter = s.metrics.counter('redaction_bodies_replaced', 'Bodies replaced whole without being parsed (invalid base64, over max_body_size), by reason.', ['reason']);
  }

  /**
   * An explicit `workers: N` starts its workers now, so a worker that cannot load fails the start;
   * `auto` (the default) starts them with the first batch, so a daemon that has not redacted yet
   * starts as fast and stays as small as without them.
   */
  async start(): Promise<void> {
    if (this.s.config.workers !== 'auto') await this.pool?.start();
  }

  /** Lets the batches in flight finish (their downstream too), then stops the workers. */
  async shutdown(deadline?: AbortSignal): Promise<void> {
    const aborted = new Promise<void>((r) => (!deadline || deadline.aborted ? r() : deadline.addEventListener('abort', () => r(), { once: true })));
    await Promise.race([Promise.allSettled(this.inFlight), ...(deadline ? [aborted] : [])]);
    await this.pool?.close(deadline);
    await this.inflater?.close(deadline);
  }

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
    if (this.pool) return this.consumeInPool(this.pool, batch, ctx);
    if (this.inflater) return this.consumeInflated(this.inflater, batch, ctx);
    const out = this.keep(batch, batch.map((r) => redactOne(this.redactor, r.rrpair, this.s.config)));
    if (out.length === 0) return Promise.resolve();
    return this.next.consume(out, ctx);
  }

  /**
   * gunzip_thread: gunzips the batch's gzip bodies in a worker thread, then redacts on the event
   * loop with those bytes handed in; batches are handed on in the order they came.
   */
  private consumeInflated(inflater: BodyInflater, batch: RecordBatch, ctx: Context): Promise<void> {
    const c = this.s.config;
    const work = inflater.inflate(batch.map((r) => r.rrpair))
      .then((inflated) => this.keep(batch, batch.map((r) => redactOne(this.redactor, r.rrpair, c, inflated))));
    return this.track(this.order.run(work, (out) => (out.length ? this.next.consume(out, ctx) : Promise.resolve())));
  }

  /** Remembers a batch until it was handed on, so shutdown can wait for it. */
  private track(done: Promise<void>): Promise<void> {
    this.inFlight.add(done);
    const forget = () => void this.inFlight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * Redacts in the pool and hands batches on in the order they came; resolves once the next stage
   * accepted this batch. A batch a worker failed (its batch function threw, or the worker died)
   * is redacted again alone and in halves (isolateFailures): only a record that fails alone is
   * dropped and counted, as inline redaction drops one it cannot redact; at shutdown, or when the
   * workers fail on everything, the batch is refused retryably, nothing of it lost.
   */
  private consumeInPool(pool: WorkerPool, batch: RecordBatch, ctx: Context): Promise<void> {
    const work = this.redactIn(batch, (input, transfer) => pool.run<PoolResult>(input, transfer))
      .catch(async (err: unknown) => {
        if (err instanceof ShutdownError) throw err;
        this.s.logger.warn({ err }, 'redaction: a worker failed a batch; redacting it again in a worker of its own, in halves while it fails, to find the records that cannot be redacted');
        const alone = (rs: RecordBatch) => this.redactIn(rs, (input, transfer) => pool.runAlone<PoolResult>(input, transfer));
        const one = await isolateFailures<RRRecord, { record: RRRecord; outcome: Outcome }>(batch, {
          runAlone: async (rs) => {
            const done = await alone(rs);
            return done.records.map((r, i) => ({ record: r, outcome: done.outcomes[i]! }));
          },
          giveUp: (r, err) => ({ record: r, outcome: { error: new Error(`a redaction worker failed on this record alone: ${err.message}`) } }),
          probe: () => alone([newRecord({ msgType: 'rrpair', http: { req: { headers: { Authorization: ['Bearer probe-0123456789abcdef'] } } } } as RRPair)]),
        });
        return { records: one.map((o) => o.record), outcomes: one.map((o) => o.outcome) };
      })
      .then(({ records, outcomes }) => this.keep(records, outcomes));
    return this.track(this.order.run(work, (out) => (out.length ? this.next.consume(out, ctx) : Promise.resolve())));
  }

  /**
   * Sends records to a worker (`send`) as packed JSON and gives each back with what the worker
   * found: the worker's JSON when it changed the RRPair (withRRPairJson, unread), else as it was.
   */
  private async redactIn(batch: RecordBatch, send: (input: PoolBatch, transfer: ArrayBuffer[]) => Promise<PoolResult>): Promise<{ records: RRRecord[]; outcomes: Outcome[] }> {
    const early: (Outcome | undefined)[] = [];
    const packer = new JsonPacker(batch.length, batch.length * 8192);
    batch.forEach((r, i) => {
      const arrived = rrpairJsonOf(r);
      if (arrived) return packer.addBytes(arrived);
      try {
        const text = JSON.stringify(r.rrpair) as string | undefined;
        if (text !== undefined) return packer.addString(text);
      } catch {
        // not JSON (a BigInt, a cycle): redacted here instead
      }
      early[i] = redactOne(this.redactor, r.rrpair, this.s.config);
      packer.skip();
    });
    const { pack, transfer } = packer.finish();
    const res = await send(pack, transfer);
    const records = batch.map((r, i) => {
      const json = early[i] ? undefined : packed(res.pack, i);
      return json?.length ? withRRPairJson(r, json, res.changedKnown[i] ?? []) : r;
    });
    return { records, outcomes: records.map((_, i) => early[i] ?? res.outcomes[i]!) };
  }

  /** Counts what redaction found and returns the records to pass on (fails closed: one that could not be redacted is dropped). */
  private keep(batch: RecordBatch, outcomes: Outcome[]): RRRecord[] {
    const out: RRRecord[] = [];
    let failed = 0;
    // counted once a batch: a counter increment (label checks, a label object) per record cost more than the counting
    const byCategory = new Map<string, number>();
    const byReason = new Map<string, number>();
    batch.forEach((r, i) => {
      const o = outcomes[i]!;
      if (o.error) {
        failed++;
        this.s.logger.error({ err: o.error }, 'redaction: could not redact a record; dropping it rather than passing it on unredacted');
        return;
      }
      if (o.categories) {
        delete r.sizeHint;
        for (const [category, n] of o.categories) byCategory.set(category, (byCategory.get(category) ?? 0) + n);
      }
      if (o.summary !== undefined) r.attributes[this.s.config.summary_attribute] = o.summary;
      for (const reason of o.replaced ?? []) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
      out.push(r);
    });
    for (const [category, n] of byCategory) this.redactedCounter.inc({ category }, n);
    for (const [reason, n] of byReason) this.bodyCounter.inc({ reason }, n);
    if (failed) this.s.metrics.dropped(failed, 'redaction_failed');
    return out;
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
  gunzip_thread: bool(false, 'rrpipe: gunzip the gzip bodies of each batch in one helper thread before redacting it on the event loop (same bytes, same limits; a body it cannot gunzip is decoded on the event loop as before). Less event-loop CPU, a little more CPU in all and a larger peak RSS: it pays where a core is free. With workers: auto it keeps redaction on the event loop (auto then starts no workers); with an explicit workers: N it is not used (a warning at start says so).'),
  workers: withDefault(raw<number | 'auto'>({
    anyOf: [{ type: 'integer', minimum: 0, maximum: 64 }, { const: 'auto' }],
    description: 'rrpipe: worker threads that redact, so receiving never waits on redaction and every core is used; 0 redacts on the event loop. auto: one per CPU the process may use (its cgroup CPU limit counts), at most 8, started with the first batch; none on 1 CPU or with gunzip_thread. Same output either way; batches keep their order and are acknowledged once the next stage accepted them.',
  }), 'auto'),
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
        compileLinear(re, 'redaction');
      } catch (err) {
        problems.push({ path, message: (err as Error).message });
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
