import { rmSync } from 'node:fs';
import { builtinRegistry } from '../../src/components.js';
import type { ExporterFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RRRecord } from '../../src/core/record.js';
import { Service } from '../../src/service/service.js';
import { exporterHelperProperties, obj } from '../../src/config/fragments.js';
import { createExporter, type ExporterHelperConfig } from '../../src/helpers/exporter.js';
import { tmp } from '../support/index.js';

/** Records captured by a `capture` exporter, by component id; `stalled` holds every push until released. */
export class Sink {
  readonly records: RRRecord[] = [];
  private gate?: { promise: Promise<void>; open(): void };
  pushes = 0;
  private waiters: { n: number; resolve(): void }[] = [];

  stall(): void {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.gate = { promise, open };
  }

  release(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  async push(batch: RRRecord[]): Promise<void> {
    this.pushes++;
    while (this.gate) await this.gate.promise;
    this.records.push(...batch);
    this.waiters = this.waiters.filter((w) => (this.records.length >= w.n ? (w.resolve(), false) : true));
  }

  /** Resolves once at least n records arrived (or rejects after ms). */
  waitFor(n: number, ms = 20_000): Promise<void> {
    if (this.records.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} records (have ${this.records.length})`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
    });
  }
}

/** An exporter type `capture` built on createExporter, writing into the Sink of its id. */
export function captureFactory(sinks: Map<string, Sink>): ExporterFactory<ExporterHelperConfig> {
  return {
    kind: 'exporter',
    type: 'capture',
    stability: 'development',
    description: 'test: captures records',
    schema: obj({ ...exporterHelperProperties() }),
    create: (s) => {
      let sink = sinks.get(s.id);
      if (!sink) sinks.set(s.id, (sink = new Sink()));
      const k = sink;
      return createExporter(s, { push: (batch) => k.push(batch) });
    },
  };
}

export interface Running {
  service: Service;
  sinks: Map<string, Sink>;
  sink: Sink;
  stop(): Promise<void>;
}

/** The one shape of the OTLP tests' service: otlp receiver → optional processors → capture. */
export interface OtlpServiceSpec {
  /** Keys of the gRPC protocol block (flow-map text), e.g. `endpoint: "127.0.0.1:4317", max_recv_msg_size_mib: 1`; absent: no gRPC. */
  grpc?: string;
  /** Keys of the HTTP protocol block; absent: no HTTP. */
  http?: string;
  /** Other keys of the otlp receiver (flow-map text), e.g. `admission: { request_limit_mib: 1 }`. */
  receiver?: string;
  /** Processors in pipeline order, id → their config (flow-map text). */
  processors?: Record<string, string>;
  /** Config of the capture exporter (flow-map text). */
  capture?: string;
}

/** YAML of an OTLP test service (silent logs, no metrics endpoint, a temporary data_dir). */
export function otlpServiceYaml(s: OtlpServiceSpec): string {
  const procs = Object.entries(s.processors ?? {});
  return [
    'receivers:',
    '  otlp:',
    ...(s.receiver ? [`    ${s.receiver}`] : []),
    '    protocols:',
    ...(s.grpc !== undefined ? [`      grpc: { ${s.grpc} }`] : []),
    ...(s.http !== undefined ? [`      http: { ${s.http} }`] : []),
    ...(procs.length ? ['processors:', ...procs.map(([id, c]) => `  ${id}: { ${c} }`)] : []),
    'exporters:',
    `  capture: { ${s.capture ?? ''} }`,
    'service:',
    '  telemetry: { metrics: { level: none }, logs: { level: silent } }',
    '  data_dir: __DATA_DIR__',
    '  pipelines:',
    `    logs: { receivers: [otlp], ${procs.length ? `processors: [${procs.map(([id]) => id).join(', ')}], ` : ''}exporters: [capture] }`,
  ].join('\n');
}

/** Start a Service from YAML text with the built-in components plus `capture`. */
export async function startService(yaml: string | OtlpServiceSpec): Promise<Running> {
  if (typeof yaml !== 'string') yaml = otlpServiceYaml(yaml);
  const registry = await builtinRegistry();
  const sinks = new Map<string, Sink>();
  registry.register(captureFactory(sinks));
  const dataDir = tmp('rrpipe-otlp-');
  const text = `${yaml}\n`.replace('__DATA_DIR__', dataDir);
  const service = new Service({ files: ['t.yaml'], texts: { 't.yaml': text }, registry, logger: silentLogger() });
  await service.start();
  return {
    service,
    sinks,
    get sink() {
      return sinks.get('capture') ?? [...sinks.values()][0]!;
    },
    async stop() {
      await service.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A counter's value by name and labels, from the service's Prometheus registry. */
export async function counterValue(service: Service, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = service.telemetry.registry.getSingleMetric(name);
  if (!m) return 0;
  const got = await m.get();
  return got.values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((a, v) => a + v.value, 0);
}
