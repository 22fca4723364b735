import type { AnyConsumer, Component, ConnectorFactory, Consumer, CreateSettings } from '../../core/component.js';
import type { AttrValue, Context, RecordBatch, RRRecord } from '../../core/record.js';
import { obj, raw, str, type Config } from '../../config/fragments.js';
import { anyCondition, attributeList, conditionList, conditionProblems, deltaSumPoints, DeltaClock, groupAttributes, Groups, type AttributeSpec } from '../internal/logs-to-metrics.js';

const metricDef = obj({
  description: str(undefined, 'Metric description.'),
  source_attribute: str(undefined, 'Log attribute whose numeric value is summed.'),
  conditions: conditionList(),
  attributes: attributeList(),
}, { required: ['source_attribute'] });

const schema = obj({
  logs: raw<Record<string, Config<typeof metricDef>>>({
    type: 'object',
    description: 'Metrics to sum log attributes into, by name.',
    additionalProperties: metricDef,
  }),
});

export type SumConnectorConfig = Config<typeof schema>;

interface Def {
  name: string;
  description: string;
  source: string;
  match: (r: RRRecord) => boolean;
  attributes: AttributeSpec[];
}

/** The summed value of an attribute as sumconnector reads it: a number, or a numeric string; anything else adds 0. */
function numeric(v: AttrValue | undefined): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v === 'string') {
    const n = Number.parseFloat(v);
    return Number.isFinite(n) ? n : 0;
  }
  return 0;
}

/**
 * Sums a numeric log attribute into delta, monotonic double sums per (resource, attributes) per
 * batch (contrib's sumconnector). Unlike contrib (which adds the value once per grouping
 * attribute, so a metric grouped by two attributes doubles it), the value is added once.
 */
class SumConnector implements Component, Consumer {
  private readonly defs: Def[];
  private readonly clock = new DeltaClock();

  constructor(s: CreateSettings<SumConnectorConfig>, private readonly next: AnyConsumer) {
    const errors = s.metrics.counter('connector_condition_errors', 'OTTL conditions that failed to evaluate (counted as no match).');
    const onError = (err: unknown) => {
      errors.inc();
      s.logger.debug({ err }, 'condition failed to evaluate');
    };
    this.defs = Object.entries(s.config.logs ?? {}).map(([name, d]) => ({
      name, description: d.description ?? '', source: d.source_attribute, match: anyCondition(d.conditions, onError), attributes: d.attributes,
    }));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: RecordBatch, ctx: Context): Promise<void> {
    if (batch.length === 0) return;
    const groups = this.defs.map(() => new Groups<number>());
    for (const r of batch) {
      this.defs.forEach((d, i) => {
        // sumconnector reads the grouping attributes and the source from the log record's attributes.
        const attrs = groupAttributes(d.attributes, [r.attributes]);
        if (!attrs || !d.match(r)) return;
        const v = numeric(r.attributes[d.source]);
        groups[i]!.add(r.resource, attrs, () => 0, (x) => x + v);
      });
    }
    const points = deltaSumPoints('sum', this.defs, groups, this.clock);
    if (points.length) await this.next.consume(points, ctx);
  }
}

export const factory: ConnectorFactory<SumConnectorConfig> = {
  kind: 'connector',
  type: 'sum',
  stability: 'alpha',
  description: 'Sums a numeric log attribute (e.g. an RRPair duration) into metrics, by OTTL conditions and attributes (OTel sumconnector).',
  connects: [['logs', 'metrics']],
  schema,
  validate: (c) => [
    ...(Object.keys(c.logs ?? {}).length === 0 ? [{ path: ['logs'], message: 'define at least one metric under logs' }] : []),
    ...conditionProblems(c.logs ?? {}, 'logs'),
  ],
  create: (s, next) => new SumConnector(s, next),
};
