import type { AnyConsumer, Component, ConnectorFactory, Consumer, CreateSettings } from '../../core/component.js';
import type { Context, RecordBatch } from '../../core/record.js';
import { obj, raw, str, type Config } from '../../config/fragments.js';
import { anyCondition, attributeList, conditionList, conditionProblems, deltaSumPoints, DeltaClock, groupAttributes, Groups, type AttributeSpec } from '../internal/logs-to-metrics.js';

const metricDef = obj({
  description: str(undefined, 'Metric description.'),
  conditions: conditionList(),
  attributes: attributeList(),
});

const schema = obj({
  logs: raw<Record<string, Config<typeof metricDef>>>({
    type: 'object',
    description: 'Metrics to count log records into, by name. Absent: one metric, log.record.count.',
    additionalProperties: metricDef,
  }),
});

export type CountConnectorConfig = Config<typeof schema>;

interface Def {
  name: string;
  description: string;
  match: (r: RecordBatch[number]) => boolean;
  attributes: AttributeSpec[];
}

/** OTel's default metric when `logs` is not configured (countconnector README). */
const DEFAULT_NAME = 'log.record.count';
const DEFAULT_DESCRIPTION = 'The number of log records observed.';

/**
 * Counts log records into delta, monotonic sums, one point per (resource, attributes) per batch,
 * and hands them to the metrics pipelines before acknowledging the logs (contrib's countconnector).
 */
class CountConnector implements Component, Consumer {
  private readonly defs: Def[];
  private readonly clock = new DeltaClock();

  constructor(s: CreateSettings<CountConnectorConfig>, private readonly next: AnyConsumer) {
    const errors = s.metrics.counter('connector_condition_errors', 'OTTL conditions that failed to evaluate (counted as no match).');
    const onError = (err: unknown) => {
      errors.inc();
      s.logger.debug({ err }, 'condition failed to evaluate');
    };
    const logs = s.config.logs ?? { [DEFAULT_NAME]: { description: DEFAULT_DESCRIPTION, conditions: [], attributes: [] } };
    this.defs = Object.entries(logs).map(([name, d]) => ({ name, description: d.description ?? '', match: anyCondition(d.conditions, onError), attributes: d.attributes }));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: RecordBatch, ctx: Context): Promise<void> {
    if (batch.length === 0) return;
    const groups = this.defs.map(() => new Groups<number>());
    for (const r of batch) {
      this.defs.forEach((d, i) => {
        if (!d.match(r)) return;
        const attrs = groupAttributes(d.attributes, [r.attributes, r.resource]);
        if (attrs) groups[i]!.add(r.resource, attrs, () => 0, (v) => v + 1);
      });
    }
    const points = deltaSumPoints('count', this.defs, groups, this.clock);
    if (points.length) await this.next.consume(points, ctx);
  }
}

export const factory: ConnectorFactory<CountConnectorConfig> = {
  kind: 'connector',
  type: 'count',
  stability: 'alpha',
  description: 'Counts log records (RRPairs) into metrics, by OTTL conditions and attributes (OTel countconnector).',
  connects: [['logs', 'metrics']],
  schema,
  validate: (c) => conditionProblems(c.logs ?? {}, 'logs'),
  create: (s, next) => new CountConnector(s, next),
};
