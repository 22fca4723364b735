import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { bytes, obj, stringMap, type Config } from '../../config/fragments.js';
import { withFields, type Context, type RecordBatch, type RRRecord } from '../../core/record.js';
import { buildIndexDoc } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import { valueAt } from '../../rrpair/path.js';

/**
 * Attaches the index document (`record.index`) that short-term stores search by. The RRPair itself
 * is left as it is; records are shallow-copied with their index, so the processor never changes a
 * record another pipeline holds.
 */
export class IndexingProcessor implements Component, Consumer {
  private readonly extras: [string, string][];
  private readonly failures;

  constructor(private readonly s: CreateSettings<IndexingConfig>, private readonly next: Consumer) {
    this.extras = Object.entries(s.config.extra_fields);
    this.failures = s.metrics.counter('indexing_failures', 'Records passed on without an index document because deriving it failed.', ['reason']);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const out: RecordBatch = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) out[i] = this.index(batch[i]!);
    return this.next.consume(out, ctx);
  }

  /** The record with its index document, or the record unchanged (counted) when it cannot be indexed. */
  index(r: RRRecord): RRRecord {
    try {
      const doc = buildIndexDoc(r);
      for (const [name, path] of this.extras) {
        const v = scalar(valueAt(r, path, this.s.config.max_body_size));
        if (v !== undefined) doc[name] = v;
      }
      return withFields(r, { index: doc });
    } catch (err) {
      this.failures.inc({ reason: (err as Error).name || 'Error' });
      this.s.logger.warn({ err, uuid: typeof r.rrpair?.uuid === 'string' ? r.rrpair.uuid : undefined }, 'indexing: could not derive the index document; passing the record on without one');
      return r;
    }
  }
}

function scalar(v: unknown): IndexDoc[string] {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

const schema = obj({
  extra_fields: stringMap('Extra index fields: field name → path (http.req.headers.X-Tenant, http.res.body.json.$.id, tags.source, attributes.k8s.pod).'),
  max_body_size: bytes('8MiB', 'Largest body decoded to read a http.*.body.json path; larger bodies give no value.'),
});

export type IndexingConfig = Config<typeof schema>;

export const factory: ProcessorFactory<IndexingConfig> = {
  kind: 'processor',
  type: 'indexing',
  stability: 'beta',
  // Records are copied ({ ...r, index }) rather than changed, so fan-out need not clone them.
  mutatesData: false,
  description: 'Attaches the index document (time, identity, command/location/status, sizes, extra fields) short-term stores search by.',
  schema,
  validate: (c) =>
    Object.keys(c.extra_fields)
      .filter((k) => (INDEX_FIELDS as readonly string[]).includes(k))
      .map((k) => ({ path: ['extra_fields', k], message: `"${k}" is a built-in index field; choose another name` })),
  create: (s, next) => new IndexingProcessor(s, next),
};
