// An rrpipe plugin is an ES module that exports component factories. This one adds
// configured tags to every RRPair. It needs nothing from rrpipe at run time: the types
// below (from the 'rrpipe' package) are for editors and `tsc --checkJs` only.

/** @typedef {{ tags: Record<string, string>, overwrite: boolean }} TagConfig */

/** @type {import('rrpipe').ProcessorFactory<TagConfig>} */
export const tagProcessor = {
  kind: 'processor',
  type: 'tag',
  stability: 'development',
  description: 'Example plugin: adds tags to every RRPair.',
  // The processor changes records in place, so fan-out gives it its own copy.
  mutatesData: true,
  // JSON Schema with defaults; rrpipe validates it with ajv and fills the defaults.
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['tags'],
    properties: {
      tags: { type: 'object', additionalProperties: { type: 'string' }, minProperties: 1, description: 'Tags to add (name: value).' },
      overwrite: { type: 'boolean', default: false, description: 'Replace a tag the RRPair already has.' },
    },
  },
  validate(config) {
    return Object.keys(config.tags)
      .filter((k) => !/^[A-Za-z0-9_.-]+$/.test(k))
      .map((k) => ({ path: ['tags', k], message: `tag name "${k}" may use letters, digits, _ . - only` }));
  },
  create(settings, next) {
    const { tags, overwrite } = settings.config;
    const added = settings.metrics.counter('tag_processor_tags_added', 'Tags the tag processor added.');
    return {
      async start() {},
      async shutdown() {},
      async consume(batch, ctx) {
        let n = 0;
        for (const record of batch) {
          const t = (record.rrpair.tags ??= {});
          for (const [k, v] of Object.entries(tags)) {
            if (overwrite || t[k] === undefined) {
              t[k] = v;
              n++;
            }
          }
        }
        added.inc({}, n);
        // Resolve only once the next stage accepted the batch: that is what carries backpressure.
        await next.consume(batch, ctx);
      },
    };
  },
};

export const factories = [tagProcessor];
