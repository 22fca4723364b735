import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { bool, bytes, int, obj, oneOf, str, type Config } from '../../config/fragments.js';
import type { Context, RecordBatch } from '../../core/record.js';
import { findTokens, gunzipBodies, parameterize, RecurringValues, type TokenEntry, type TokenizeOptions } from '../../rrpair/tokens.js';
import type { RRPair } from '../../rrpair/types.js';

/**
 * Finds the values that must change at replay (JWTs, credentials, UUIDs, dates, ids handed out
 * by a response and sent back later) and records them as token entries on the RRPair; in
 * parameterize mode it also replaces them by placeholders. `render` (src/rrpair/tokens.ts,
 * `rrpipe render`) turns the result back into a replayable RRPair.
 */
export class TokenizationProcessor implements Component, Consumer {
  private readonly memory: RecurringValues;
  private readonly found;
  private readonly skipped;
  private readonly skippedBodies;

  constructor(private readonly s: CreateSettings<TokenizationConfig>, private readonly next: Consumer) {
    this.memory = new RecurringValues(s.config.max_sessions, s.config.max_values_per_session);
    this.found = s.metrics.counter('tokenization_tokens', 'Token entries written, by pattern.', ['pattern']);
    this.skippedBodies = s.metrics.counter('tokenization_bodies_skipped', 'Bodies not looked into, by reason (too_large, invalid_base64, decompress_failed).', ['reason']);
    this.skipped = s.metrics.counter('tokenization_skipped', 'Records passed on without tokens, by reason.', ['reason']);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const c = this.s.config;
    const opts: TokenizeOptions = {
      ...c.detect,
      maxBodyBytes: c.max_body_size,
      onBodySkipped: (reason) => this.skippedBodies.inc({ reason }),
      inflated: gunzipBodies(bodiesOf(batch), c.max_body_size),
    };
    const byPattern = new Map<string, number>();
    for (const r of batch) {
      const rr = r.rrpair;
      try {
        if (!rr || typeof rr !== 'object') throw new TypeError('no RRPair object');
        const existing = rr[c.field];
        if (existing !== undefined && !Array.isArray(existing)) {
          this.skipped.inc({ reason: 'field_in_use' });
          continue;
        }
        const entries: TokenEntry[] = findTokens(rr, opts, this.memory);
        if (!entries.length) continue;
        if (c.mode === 'parameterize') parameterize(rr, entries);
        rr[c.field] = existing === undefined ? entries : [...(existing as TokenEntry[]), ...entries];
        delete r.sizeHint;
        for (const e of entries) byPattern.set(e.pattern, (byPattern.get(e.pattern) ?? 0) + 1);
      } catch (err) {
        // The record goes on as it came: tokenization adds information, it must not lose any.
        this.skipped.inc({ reason: 'error' });
        this.s.logger.warn({ err }, 'tokenization: could not tokenize a record; passing it on unchanged');
      }
    }
    for (const [pattern, n] of byPattern) this.found.inc({ pattern }, n);
    return this.next.consume(batch, ctx);
  }
}

/** The request and response objects of a batch that carry a body. */
function* bodiesOf(batch: RecordBatch): Generator<{ bodyBase64?: unknown }> {
  for (const r of batch) {
    const http = (r.rrpair as RRPair | undefined)?.http;
    if (!http || typeof http !== 'object') continue;
    for (const part of [http.req, http.res]) if (part && typeof part === 'object' && typeof part.bodyBase64 === 'string') yield part;
  }
}

const schema = obj({
  mode: oneOf(['annotate', 'parameterize'], 'annotate', 'annotate: add token entries only; parameterize: also replace each value by a placeholder.'),
  field: str('tokens', 'RRPair field the token entries are written to (a list).'),
  detect: obj({
    jwt: bool(true, 'JWTs (header and claims decoded; exp/iat/nbf noted).'),
    auth: bool(true, 'Bearer and Basic credentials in request headers.'),
    uuid: bool(true, 'UUIDs.'),
    dates: bool(true, 'RFC 3339 and RFC 1123 dates, epoch seconds and milliseconds (2000–2100).'),
    recurring: bool(true, 'Values a response handed out that a later request in the same session sends back.'),
  }, { default: {} }),
  max_body_size: bytes('8MiB', 'Larger bodies are not looked into.'),
  max_sessions: int(10_000, 'Sessions remembered for recurring values (least recently used are forgotten).', { minimum: 1 }),
  max_values_per_session: int(1_000, 'Response values remembered per session.', { minimum: 1 }),
});

export type TokenizationConfig = Config<typeof schema>;

export const factory: ProcessorFactory<TokenizationConfig> = {
  kind: 'processor',
  type: 'tokenization',
  stability: 'alpha',
  mutatesData: true,
  description: 'Finds JWTs, credentials, UUIDs, dates and recurring ids, and records them as token entries (optionally as placeholders) for replay.',
  schema,
  create: (s, next) => new TokenizationProcessor(s, next),
};
