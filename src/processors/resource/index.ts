import type { Component, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { list, obj, type Config } from '../../config/fragments.js';
import type { Context, RecordBatch } from '../../core/record.js';
import { actionSchema, compileActions, validateActions, type AttrAction } from '../internal/attraction/index.js';

/** The OTel resource processor: attribute actions on each record's resource attributes. */
export class ResourceProcessor implements Component, Consumer {
  private readonly run: AttrAction;

  constructor(s: CreateSettings<ResourceConfig>, private readonly next: Consumer) {
    this.run = compileActions(s.config.attributes);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consume(batch: RecordBatch, ctx: Context): Promise<void> {
    for (const r of batch) this.run(r.resource as Record<string, unknown>, ctx);
    return this.next.consume(batch, ctx);
  }
}

const schema = obj({
  attributes: list(actionSchema(), [], 'The actions on resource attributes, applied in order.'),
});

export type ResourceConfig = Config<typeof schema>;

export const factory: ProcessorFactory<ResourceConfig> = {
  kind: 'processor',
  type: 'resource',
  stability: 'beta',
  mutatesData: true,
  description: 'OTel resource processor: insert, update, upsert, delete, hash, extract, convert resource attributes.',
  schema,
  validate: (c) => {
    const problems = validateActions(c.attributes, ['attributes']);
    if (c.attributes.length === 0) problems.push({ path: ['attributes'], message: 'missing required field "attributes" (at least one action)' });
    return problems;
  },
  create: (s, next) => new ResourceProcessor(s, next),
};
