import client from 'prom-client';
import type { Kind } from './component.js';

/** Counters every component reports, so that received = sent + dead-lettered + dropped + queued can be checked. */
export interface ComponentMetrics {
  received(n: number): void;
  accepted(n: number): void;
  refused(n: number, reason: string): void;
  sent(n: number): void;
  failed(n: number, reason: string): void;
  dropped(n: number, reason: string): void;
  deadLettered(n: number, reason: string): void;
  queueSize(items: number): void;
  queueCapacity(items: number): void;
  /** An exporter's push took this long (one attempt, whatever its outcome). */
  sendDuration(seconds: number, outcome: 'sent' | 'failed'): void;
  /** A component-specific counter, named rrpipe_<name>_total with labels component and kind plus those given. */
  counter(name: string, help: string, labelNames?: string[]): { inc(labels?: Record<string, string>, n?: number): void };
  /** A component-specific gauge, named rrpipe_<name>. */
  gauge(name: string, help: string, labelNames?: string[]): { set(value: number, labels?: Record<string, string>): void };
}

const RECORD_COUNTERS = {
  received: 'Records that reached the component.',
  accepted: 'Records a receiver handed to its pipelines and they accepted.',
  refused: 'Records a receiver or processor refused back to its sender (the sender may retry).',
  sent: 'Records an exporter delivered to its destination.',
  failed: 'Records an exporter attempt failed to deliver (may be retried).',
  dropped: 'Records discarded on purpose, with the reason (filtered, sampled, malformed, capture overflow).',
  dead_lettered: 'Records sent to a dead-letter destination, with the reason.',
} as const;

type CounterName = keyof typeof RECORD_COUNTERS;

/**
 * Upper bounds (seconds) of the export-latency histogram: from a local write to a remote call
 * that waits out its timeout. The OTel Collector's exporterhelper has no such histogram (its
 * internal telemetry counts sent / failed items only), so the name is rrpipe's own.
 */
export const SEND_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The daemon's own metrics, in a registry of their own so that several services can run in one process (tests). */
export class Telemetry {
  readonly registry = new client.Registry();
  private readonly counters = new Map<string, client.Counter<string>>();
  private readonly gauges = new Map<string, client.Gauge<string>>();
  private readonly sendDuration: client.Histogram<string>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    for (const [name, help] of Object.entries(RECORD_COUNTERS)) {
      const labelNames = ['component', 'kind', 'pipeline'];
      if (name !== 'received' && name !== 'accepted' && name !== 'sent') labelNames.push('reason');
      this.counters.set(name, new client.Counter({ name: `rrpipe_records_${name}_total`, help, labelNames, registers: [this.registry] }));
    }
    this.gauges.set('queue_size', new client.Gauge({ name: 'rrpipe_queue_size', help: 'Records waiting in a queue.', labelNames: ['component', 'kind', 'pipeline'], registers: [this.registry] }));
    this.gauges.set('queue_capacity', new client.Gauge({ name: 'rrpipe_queue_capacity', help: 'Capacity of a queue, in its sizer unit.', labelNames: ['component', 'kind', 'pipeline'], registers: [this.registry] }));
    this.sendDuration = new client.Histogram({
      name: 'rrpipe_exporter_send_duration_seconds',
      help: 'Duration of one exporter push (an attempt to deliver a batch), by outcome: sent or failed.',
      labelNames: ['component', 'kind', 'pipeline', 'outcome'],
      buckets: SEND_DURATION_BUCKETS,
      registers: [this.registry],
    });
    if (opts.processMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: '' });
  }

  forComponent(id: string, kind: Kind, pipeline = ''): ComponentMetrics {
    const base = { component: id, kind, pipeline };
    const c = (name: CounterName) => this.counters.get(name)!;
    const inc = (name: CounterName, n: number, reason?: string) => {
      if (n > 0) c(name).inc(reason === undefined ? base : { ...base, reason }, n);
    };
    return {
      received: (n) => inc('received', n),
      accepted: (n) => inc('accepted', n),
      refused: (n, r) => inc('refused', n, r),
      sent: (n) => inc('sent', n),
      failed: (n, r) => inc('failed', n, r),
      dropped: (n, r) => inc('dropped', n, r),
      deadLettered: (n, r) => inc('dead_lettered', n, r),
      queueSize: (v) => this.gauges.get('queue_size')!.set(base, v),
      queueCapacity: (v) => this.gauges.get('queue_capacity')!.set(base, v),
      sendDuration: (sec, outcome) => this.sendDuration.observe({ ...base, outcome }, sec),
      counter: (name, help, labelNames = []) => {
        const full = `rrpipe_${name}_total`;
        let counter = this.counters.get(full);
        if (!counter) {
          counter = new client.Counter({ name: full, help, labelNames: ['component', 'kind', 'pipeline', ...labelNames], registers: [this.registry] });
          this.counters.set(full, counter);
        }
        const ctr = counter;
        return { inc: (labels = {}, n = 1) => ctr.inc({ ...base, ...labels }, n) };
      },
      gauge: (name, help, labelNames = []) => {
        const full = `rrpipe_${name}`;
        let gauge = this.gauges.get(full);
        if (!gauge) {
          gauge = new client.Gauge({ name: full, help, labelNames: ['component', 'kind', 'pipeline', ...labelNames], registers: [this.registry] });
          this.gauges.set(full, gauge);
        }
        const g = gauge;
        return { set: (v, labels = {}) => g.set({ ...base, ...labels }, v) };
      },
    };
  }

  /** Prometheus text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** Sum of a record counter over the label values given (for tests and the loss equation). */
  async total(name: CounterName, labels: Record<string, string> = {}): Promise<number> {
    const m = await this.counters.get(name)!.get();
    return m.values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((a, v) => a + v.value, 0);
  }
}

/** Metrics that go nowhere, for components created outside a service (unit tests, CLI one-offs). */
export function noopMetrics(): ComponentMetrics {
  const nothing = () => {};
  return {
    received: nothing, accepted: nothing, refused: nothing, sent: nothing, failed: nothing,
    dropped: nothing, deadLettered: nothing, queueSize: nothing, queueCapacity: nothing, sendDuration: nothing,
    counter: () => ({ inc: nothing }), gauge: () => ({ set: nothing }),
  };
}
