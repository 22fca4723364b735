import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type ResolvedConfig } from '../config/load.js';
import { listen, splitHostPort } from '../helpers/net.js';
import { Graph } from './graph.js';
import { createLogger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { Telemetry } from '../core/telemetry.js';
import { applyUmask } from '../core/umask.js';
import { idleGc, type IdleGc } from './idle-gc.js';

export interface ServiceOptions {
  files: string[];
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  /** Config texts by file name, instead of reading files. */
  texts?: Record<string, string>;
  /** Run until every finite receiver is done, then drain and return. */
  oneShot?: boolean;
  logger?: Logger;
}

/**
 * The daemon: loads a config, runs its graph, serves /metrics, reloads on demand and drains on stop.
 * Telemetry (counters) lives as long as the service, across reloads.
 */
export class Service {
  readonly telemetry = new Telemetry();
  private graph?: Graph;
  private cfg?: ResolvedConfig;
  private metricsServer?: Server;
  /** A full GC once idle after a load spike, when the runtime exposes gc (idle-gc.ts); not in one-shot runs. */
  private readonly idleGc?: IdleGc;
  private logger: Logger;
  private lifecycle: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ServiceOptions) {
    this.logger = opts.logger ?? createLogger('info');
    this.idleGc = opts.oneShot ? undefined : idleGc();
  }

  get config(): ResolvedConfig | undefined {
    return this.cfg;
  }

  get host() {
    return this.graph?.host;
  }

  async start(): Promise<void> {
    const cfg = await this.load();
    if (!this.opts.logger) this.logger = createLogger(cfg.logLevel, 2, cfg.secrets);
    for (const w of cfg.warnings) this.logger.warn({ config: cfg.files }, w);
    await this.startMetrics(cfg.metricsAddress, metricsFromReader(cfg));
    await this.run(cfg);
    this.idleGc?.start();
    this.logger.info({ config: cfg.files, pipelines: [...cfg.pipelines.keys()] }, 'rrpipe started');
  }

  private load(): Promise<ResolvedConfig> {
    return loadConfig(this.opts.files, { registry: this.opts.registry, env: this.opts.env, texts: this.opts.texts });
  }

  private async run(cfg: ResolvedConfig): Promise<void> {
    applyUmask(cfg.umask);
    const graph = new Graph(cfg, this.telemetry, this.logger, { oneShot: this.opts.oneShot });
    this.graph = graph;
    this.cfg = cfg;
    await graph.build();
    try {
      await graph.start();
    } catch (err) {
      await graph.shutdown(AbortSignal.timeout(cfg.gracePeriodMs));
      throw err;
    }
  }

  /**
   * Re-read the config. If it is invalid, keep running the old one and say why; if it is valid,
   * drain the old pipelines (nothing in flight is lost) and start the new ones.
   */
  reload(): Promise<boolean> {
    const next = this.lifecycle.then(async () => {
      let cfg: ResolvedConfig;
      try {
        cfg = await this.load();
      } catch (err) {
        const issues = err instanceof ConfigError ? err.message.split('\n') : [String(err)];
        this.logger.error({ errors: issues }, 'reload refused: the new config is invalid; the running config stays');
        return false;
      }
      this.logger.info({ config: cfg.files }, 'reloading: draining the running pipelines');
      const old = this.cfg;
      await this.graph?.shutdown(AbortSignal.timeout(this.cfg?.gracePeriodMs ?? 30_000));
      try {
        await this.run(cfg);
      } catch (err) {
        this.logger.error({ err }, 'reload failed to start the new pipelines; restoring the previous config');
        if (old) await this.run(old);
        return false;
      }
      this.logger.info({ pipelines: [...cfg.pipelines.keys()] }, 'reloaded');
      return true;
    });
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  /** Stop receivers, drain every queue within the grace period, stop everything. */
  shutdown(): Promise<void> {
    const next = this.lifecycle.then(async () => {
      const grace = this.cfg?.gracePeriodMs ?? 30_000;
      this.logger.info({ grace_period_ms: grace }, 'shutting down: draining pipelines');
      this.idleGc?.stop();
      await this.graph?.shutdown(AbortSignal.timeout(grace));
      await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
      this.metricsServer?.closeAllConnections();
      this.logger.info('stopped');
    });
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  /** For one-shot runs: resolves when the finite receivers have delivered everything. */
  async receiversDone(): Promise<void> {
    await this.graph?.receiversDone();
  }

  hasFiniteReceivers(): boolean {
    return this.graph?.hasFiniteReceivers() ?? false;
  }

  private async startMetrics(address: string | undefined, fromReader: boolean): Promise<void> {
    if (!address) return;
    const { host, port } = splitHostPort(address, 8888);
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
        this.telemetry.text().then(
          (body) => {
            res.writeHead(200, { 'content-type': this.telemetry.contentType() });
            res.end(body);
          },
          (err) => {
            res.writeHead(500);
            res.end(String(err));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: metrics are at /metrics\n');
    });
    let bound;
    try {
      bound = await listen(server, host, port);
    } catch (err) {
      // The listener every process of a config opens, a one-shot `rrpipe rehydrate` next to a
      // running `rrpipe run` too: say which one it is and how to move it or turn it off.
      const key = fromReader ? 'service.telemetry.metrics.readers (pull/prometheus host and port)' : 'service.telemetry.metrics.address';
      throw new Error(`the metrics listener (${key}) cannot listen on ${host}:${port}: ${(err as Error).message}; ` +
        `set ${key} to a free port (port 0 picks one), or service.telemetry.metrics.level: none to turn it off`, { cause: err });
    }
    server.unref();
    this.metricsServer = server;
    this.logger.info({ address: `${host}:${bound.port}` }, 'metrics at /metrics');
  }
}

/** Whether the metrics address comes from a pull/prometheus reader (it wins over metrics.address). */
function metricsFromReader(cfg: ResolvedConfig): boolean {
  const readers = (cfg.resolved as { service?: { telemetry?: { metrics?: { readers?: unknown[] } } } }).service?.telemetry?.metrics?.readers;
  return (readers ?? []).some((r) => !!(r as { pull?: { exporter?: { prometheus?: unknown } } })?.pull?.exporter?.prometheus);
}
