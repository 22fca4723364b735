import type { AnyConsumer, Component, ExporterFactory, Item } from '../../core/component.js';
import { isMetricPoint, pointJson, type MetricPoint } from '../../core/metric.js';
import { oneOf, obj, int } from '../../config/fragments.js';
import type { RRRecord } from '../../core/record.js';
import { deriveCLS } from '../../rrpair/derive.js';

export interface DebugConfig {
  verbosity: 'basic' | 'normal' | 'detailed';
  sampling_initial: number;
  sampling_thereafter: number;
}

/** Writes to stdout; its own stream so a test or a pipe can read it. */
export function createDebugExporter(config: DebugConfig, out: NodeJS.WritableStream = process.stdout): Component & AnyConsumer {
  let seen = 0;
  return {
    async start() {},
    async shutdown() {},
    async consume(items: Item[]) {
      const lines: string[] = [];
      if (items.length && isMetricPoint(items[0])) {
        const points = items as MetricPoint[];
        if (config.verbosity === 'basic') lines.push(`Metrics: ${new Set(points.map((p) => p.name)).size}, DataPoints: ${points.length}`);
        else for (const p of points) lines.push(config.verbosity === 'normal' ? `${p.name}{${Object.entries(p.attributes).map(([k, v]) => `${k}=${v}`).join(',')}} ${p.type === 'histogram' ? `count=${p.count} sum=${p.sum}` : p.value}` : pointJson(p));
        if (lines.length) out.write(lines.join('\n') + '\n');
        return;
      }
      const batch = items as RRRecord[];
      if (config.verbosity === 'basic') {
        lines.push(`LogRecords: ${batch.length}`);
      } else {
        for (const r of batch) {
          seen++;
          if (seen > config.sampling_initial && (seen - config.sampling_initial) % config.sampling_thereafter !== 0) continue;
          if (config.verbosity === 'normal') {
            const c = deriveCLS(r.rrpair);
            lines.push([r.rrpair.ts ?? '-', r.rrpair.direction ?? '-', r.rrpair.l7protocol ?? '-', c.command, c.location, c.status, `${r.rrpair.duration ?? '-'}ms`, r.rrpair.uuid ?? ''].join(' '));
          } else {
            lines.push(JSON.stringify({ resource: r.resource, attributes: r.attributes, ...(r.index ? { index: r.index } : {}), ...(r.location ? { location: r.location } : {}), rrpair: r.rrpair }, null, 2));
          }
        }
      }
      if (lines.length) out.write(lines.join('\n') + '\n');
    },
  };
}

export const factory: ExporterFactory<DebugConfig> = {
  kind: 'exporter',
  type: 'debug',
  aliases: ['logging'],
  stability: 'stable',
  signals: ['logs', 'metrics'],
  description: 'Prints records to stdout: a count (basic), one line each (normal) or whole (detailed).',
  schema: obj({
    verbosity: oneOf(['basic', 'normal', 'detailed'], 'basic', 'How much to print per batch.'),
    sampling_initial: int(2, 'With normal or detailed: records printed before sampling starts.', { minimum: 0 }),
    sampling_thereafter: int(1, 'With normal or detailed: then print one record in this many.', { minimum: 1 }),
  }),
  create: (s) => createDebugExporter(s.config),
};
