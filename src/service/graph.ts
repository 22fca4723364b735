import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ComponentConfig, ResolvedConfig } from '../config/load.js';
import type {
  Component, ComponentStatus, Consumer, CreateSettings, ExporterFactory, ExtensionFactory, Host, Kind,
  ProcessorFactory, ReceiverFactory, ServiceStatus, ConnectorFactory,
} from '../core/component.js';
import { isFiniteReceiver, isInputProtector, type InputProtector } from '../core/component.js';
import { errorMessage } from '../core/errors.js';
import { fanout, fanoutBySignal, type FanoutTarget } from '../core/fanout.js';
import type { Signal } from '../core/metric.js';
import { forgetRRPairJson, type Context, type RecordBatch } from '../core/record.js';
import type { Telemetry } from '../core/telemetry.js';
import { archiveConnections } from '../helpers/archive-connections.js';

interface Node {
  key: string;
  id: string;
  kind: Kind;
  pipeline?: string;
  component: Component;
  /** Keys of nodes this node hands data to. */
  feeds: Set<string>;
}

/**
 * The running pipelines of one config: every component instance and the order to start and stop
 * them. A new Graph is built for each (re)load; the telemetry outlives it.
 */
export class Graph {
  private readonly nodes = new Map<string, Node>();
  private readonly extensions = new Map<string, Component>();
  private readonly exporters = new Map<string, Consumer>();
  private readonly statuses = new Map<string, { status: ComponentStatus; error?: string }>();
  private started = false;
  readonly host: Host;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
    opts: { oneShot?: boolean } = {},
  ) {
    const self = this;
    this.host = {
      getExtension: <T>(id: string) => self.extensions.get(id) as T | undefined,
      getExporter: (id: string) => self.exporters.get(id),
      getExporterComponent: (id: string) => self.nodes.get(`exporter:${id}`)?.component,
      reportStatus: (id, status, error) => self.setStatus(id, status, error),
      status: () => self.status(),
      dataDir: cfg.dataDir,
      oneShot: opts.oneShot ?? false,
      archiveConnection: archiveConnections(cfg),
    };
  }

  private settings(c: ComponentConfig, pipeline?: string): CreateSettings<unknown> {
    const logger = this.logger.child({ component: c.id, kind: c.kind, ...(pipeline ? { pipeline } : {}) });
    return {
      id: c.id,
      kind: c.kind,
      config: structuredClone(c.config),
      logger,
      metrics: this.telemetry.forComponent(c.id, c.kind, pipeline),
      pipeline,
      configDir: this.cfg.configDir,
    };
  }

  /** Create every component (nothing starts yet). */
  async build(): Promise<void> {
    const { components, pipelines } = this.cfg;
    for (const id of this.cfg.serviceExtensions) {
      const c = components.extensions.get(id)!;
      this.extensions.set(id, await (c.factory as ExtensionFactory<unknown>).create(this.settings(c)));
      this.setStatus(id, 'starting');
    }
    const heads = new Map<string, { consumer: Consumer; mutates: boolean; firstKey: string[] }>();
    const building = new Set<string>();

    const exporterNode = async (id: string): Promise<Node> => {
      const key = `exporter:${id}`;
      let n = this.nodes.get(key);
      if (n) return n;
      const c = components.exporters.get(id)!;
      const comp = await (c.factory as ExporterFactory<unknown>).create(this.settings(c));
      n = this.addNode(key, id, 'exporter', comp, countingIn(comp, this.telemetry.forComponent(id, 'exporter')));
      // Dead-letter routing goes through the counting consumer too, so that exporter's loss equation holds.
      this.exporters.set(id, (n as Node & { consumer: Consumer }).consumer);
      return n;
    };

    const connectorNode = async (id: string): Promise<Node> => {
      const key = `connector:${id}`;
      let n = this.nodes.get(key);
      if (n) return n;
      const downstream = [...pipelines.values()].filter((p) => p.receivers.includes(id));
      const targets = [];
      const feeds: string[] = [];
      for (const p of downstream) {
        const h = await pipelineHead(p.id);
        targets.push({ consumer: h.consumer, mutates: h.mutates });
        feeds.push(...h.firstKey);
      }
      const c = components.connectors.get(id)!;
      const comp = await (c.factory as ConnectorFactory<unknown>).create(this.settings(c), fanout(targets));
      n = this.addNode(key, id, 'connector', comp, countingIn(comp, this.telemetry.forComponent(id, 'connector')));
      feeds.forEach((f) => n!.feeds.add(f));
      return n;
    };

    const pipelineHead = async (pid: string) => {
      const existing = heads.get(pid);
      if (existing) return existing;
      if (building.has(pid)) throw new Error(`pipeline ${pid} is part of a connector cycle`);
      building.add(pid);
      const p = pipelines.get(pid)!;
      const exits: { consumer: Consumer; mutates: boolean }[] = [];
      const exitKeys: string[] = [];
      for (const id of p.exporters) {
        const n = components.connectors.has(id) ? await connectorNode(id) : await exporterNode(id);
        exits.push({ consumer: (n as Node & { consumer: Consumer }).consumer, mutates: false });
        exitKeys.push(n.key);
      }
      let next: Consumer = fanout(exits);
      let nextKeys = exitKeys;
      let mutates = false;
      for (let i = p.processors.length - 1; i >= 0; i--) {
        const id = p.processors[i]!;
        const c = components.processors.get(id)!;
        const f = c.factory as ProcessorFactory<unknown>;
        mutates ||= f.mutatesData;
        const comp = await f.create(this.settings(c, pid), next);
        const key = `processor:${pid}:${id}`;
        const counted = countingIn(comp, this.telemetry.forComponent(id, 'processor', pid));
        const n = this.addNode(key, id, 'processor', comp, f.mutatesData ? forgettingJson(counted) : counted, pid);
        nextKeys.forEach((k) => n.feeds.add(k));
        next = (n as Node & { consumer: Consumer }).consumer;
        nextKeys = [key];
      }
      const head = { consumer: next, mutates, firstKey: nextKeys };
      heads.set(pid, head);
      building.delete(pid);
      return head;
    };

    for (const pid of pipelines.keys()) await pipelineHead(pid);

    for (const [id, c] of components.receivers) {
      const into = [...pipelines.values()].filter((p) => p.receivers.includes(id));
      if (into.length === 0) continue;
      const targets: Record<Signal, FanoutTarget[]> = { logs: [], metrics: [] };
      const feeds: string[] = [];
      for (const p of into) {
        const h = await pipelineHead(p.id);
        targets[p.signal].push({ consumer: h.consumer, mutates: h.mutates });
        feeds.push(...h.firstKey);
      }
      const metrics = this.telemetry.forComponent(id, 'receiver');
      const next = countingReceiver(fanoutBySignal(targets), metrics, id);
      const protector = this.protectorOf(into.map((p) => p.id));
      const signals = (Object.keys(targets) as Signal[]).filter((sig) => targets[sig].length > 0);
      const comp = await (c.factory as ReceiverFactory<unknown>).create({ ...this.settings(c), ...(protector ? { protector } : {}), signals }, next);
      const n = this.addNode(`receiver:${id}`, id, 'receiver', comp);
      feeds.forEach((f) => n.feeds.add(f));
    }
  }

  /** Every redacting processor of these pipelines, applied one after the other; undefined when none redacts. */
  private protectorOf(pipelineIds: string[]): InputProtector | undefined {
    const found: InputProtector[] = [];
    for (const pid of pipelineIds) {
      for (const id of this.cfg.pipelines.get(pid)!.processors) {
        const comp = this.nodes.get(`processor:${pid}:${id}`)?.component;
        if (isInputProtector(comp) && !found.includes(comp)) found.push(comp);
      }
    }
    if (found.length === 0) return undefined;
    return {
      protectText: (text) => found.reduce((t, p) => p.protectText(t), text),
      protectRRPair: (rr) => found.reduce((r, p) => p.protectRRPair(r), rr),
    };
  }

  private addNode(key: string, id: string, kind: Kind, component: Component, consumer?: Consumer, pipeline?: string): Node {
    const n: Node & { consumer?: Consumer } = { key, id, kind, component, feeds: new Set(), ...(pipeline ? { pipeline } : {}), consumer };
    this.nodes.set(key, n);
    this.setStatus(key, 'starting');
    return n;
  }

  /** Sources first: the order in which to stop, so each stage drains into a stage still running. */
  private topoOrder(): Node[] {
    const indeg = new Map<string, number>([...this.nodes.keys()].map((k) => [k, 0]));
    for (const n of this.nodes.values()) for (const f of n.feeds) indeg.set(f, (indeg.get(f) ?? 0) + 1);
    const ready = [...this.nodes.values()].filter((n) => indeg.get(n.key) === 0);
    const out: Node[] = [];
    while (ready.length) {
      const n = ready.shift()!;
      out.push(n);
      for (const f of n.feeds) {
        const d = indeg.get(f)! - 1;
        indeg.set(f, d);
        if (d === 0) ready.push(this.nodes.get(f)!);
      }
    }
    return out;
  }

  async start(): Promise<void> {
    mkdirSync(this.cfg.dataDir, { recursive: true });
    for (const [id, e] of this.extensions) {
      await e.start(this.host);
      this.setStatus(id, 'ok');
    }
    for (const n of this.topoOrder().reverse()) {
      try {
        await n.component.start(this.host);
      } catch (err) {
        this.setStatus(n.key, 'permanent_error', err as Error);
        throw new Error(`${n.kind} ${n.id}${n.pipeline ? ` (pipeline ${n.pipeline})` : ''} failed to start: ${errorMessage(err)}`, { cause: err });
      }
      this.setStatus(n.key, 'ok');
    }
    this.started = true;
  }

  /** Stop intake, drain every stage into the next, then stop extensions. */
  async shutdown(deadline: AbortSignal): Promise<void> {
    for (const n of this.topoOrder()) {
      this.setStatus(n.key, 'stopping');
      try {
        await n.component.shutdown(deadline);
      } catch (err) {
        this.logger.error({ err, component: n.id, kind: n.kind }, 'shutdown failed');
      }
      this.setStatus(n.key, 'stopped');
    }
    for (const [id, e] of [...this.extensions].reverse()) {
      try {
        await e.shutdown(deadline);
      } catch (err) {
        this.logger.error({ err, component: id, kind: 'extension' }, 'shutdown failed');
      }
      this.setStatus(id, 'stopped');
    }
    this.started = false;
  }

  /** Resolves when every finite receiver (file read once, rehydration window) has delivered all it will. */
  async receiversDone(): Promise<void> {
    const finite = [...this.nodes.values()].filter((n) => n.kind === 'receiver' && isFiniteReceiver(n.component));
    await Promise.all(finite.map((n) => (n.component as unknown as { done(): Promise<void> }).done()));
  }

  hasFiniteReceivers(): boolean {
    return [...this.nodes.values()].some((n) => n.kind === 'receiver' && isFiniteReceiver(n.component));
  }

  private setStatus(key: string, status: ComponentStatus, error?: Error): void {
    this.statuses.set(key, { status, ...(error ? { error: errorMessage(error) } : {}) });
  }

  status(): ServiceStatus {
    const components: ServiceStatus['components'] = {};
    for (const [k, v] of this.statuses) components[k] = v;
    const pipelines: Record<string, ComponentStatus> = {};
    for (const p of this.cfg.pipelines.values()) {
      const keys = [
        ...p.receivers.map((r) => (this.cfg.components.connectors.has(r) ? `connector:${r}` : `receiver:${r}`)),
        ...p.processors.map((x) => `processor:${p.id}:${x}`),
        ...p.exporters.map((e) => (this.cfg.components.connectors.has(e) ? `connector:${e}` : `exporter:${e}`)),
      ];
      const worst = keys.map((k) => this.statuses.get(k)?.status ?? 'starting').reduce((a, b) => (rank(b) > rank(a) ? b : a), 'ok' as ComponentStatus);
      pipelines[p.id] = worst;
    }
    const running = this.started && Object.values(pipelines).every((s) => s === 'ok');
    return { running, pipelines, components };
  }
}

function rank(s: ComponentStatus): number {
  return ['ok', 'recoverable_error', 'starting', 'stopping', 'stopped', 'permanent_error'].indexOf(s);
}

function countingIn(c: Component & Partial<Consumer>, m: ReturnType<Telemetry['forComponent']>): Consumer {
  const consumer = c as Consumer;
  return {
    consume(batch: RecordBatch, ctx: Context) {
      m.received(batch.length);
      return consumer.consume(batch, ctx);
    },
  };
}

/** A processor that changes records in place makes the RRPair JSON they arrived with untrue: drop it first. */
function forgettingJson(next: Consumer): Consumer {
  return {
    consume(batch: RecordBatch, ctx: Context) {
      forgetRRPairJson(batch);
      return next.consume(batch, ctx);
    },
  };
}

function countingReceiver(next: Consumer, m: ReturnType<Telemetry['forComponent']>, id: string): Consumer {
  return {
    async consume(batch: RecordBatch, ctx: Context) {
      m.received(batch.length);
      try {
        await next.consume(batch, { ...ctx, receiver: id });
        m.accepted(batch.length);
      } catch (err) {
        m.refused(batch.length, (err as Error)?.name ?? 'error');
        throw err;
      }
    },
  };
}
