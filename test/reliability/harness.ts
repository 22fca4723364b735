import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../support/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PLUGIN = join(ROOT, 'test/reliability/fixtures/plugin.mjs');


/** A numbered RRPair; its uuid is base64 of 16 bytes holding the number, as Speedscale's are 16 random bytes. */
export function rrpair(n: number): Record<string, unknown> {
  const id = Buffer.alloc(16);
  id.writeUInt32BE(n, 12);
  return {
    msgType: 'rrpair', resource: 'test', ts: new Date().toISOString(), l7protocol: 'http', duration: 3,
    uuid: id.toString('base64'), direction: 'IN', cluster: 'c', namespace: 'ns', service: 'svc',
    http: { req: { url: `/item/${n}`, uri: `/item/${n}`, method: 'POST', version: '1.1', headers: {} }, res: { statusCode: 200, headers: {} } },
  };
}
export const uuidOf = (n: number) => rrpair(n).uuid as string;

export type SinkMode = { kind: 'ok' } | { kind: 'slow'; ms: number } | { kind: 'hang' } | { kind: 'error'; status: number };

/** The backend: an HTTP server in the test process that records every uuid it is sent. */
export class Sink {
  readonly seen = new Map<string, number>();
  mode: SinkMode = { kind: 'ok' };
  /** uuids answered as permanent per-record failures (207). */
  rejectUuid?: (uuid: string) => boolean;
  /** Sees every record line delivered (and acknowledged by this sink). */
  onLine?: (line: string) => void;
  requests = 0;
  private server?: Server;
  private hung = new Set<ServerResponse>();
  port = 0;

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The backend goes away: connections are refused until start() again on the same port. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const r of this.hung) r.destroy();
    this.hung.clear();
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests++;
      const mode = this.mode;
      if (mode.kind === 'hang') {
        this.hung.add(res);
        return;
      }
      if (mode.kind === 'error') {
        res.writeHead(mode.status).end('backend error');
        return;
      }
      const finish = () => {
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        const failures: { index: number; reason: string; retryable: boolean }[] = [];
        lines.forEach((l, index) => {
          const uuid = (JSON.parse(l) as { uuid: string }).uuid;
          if (this.rejectUuid?.(uuid)) failures.push({ index, reason: 'mapper_parsing_exception: field [uuid] rejected', retryable: false });
          else {
            this.seen.set(uuid, (this.seen.get(uuid) ?? 0) + 1);
            this.onLine?.(l);
          }
        });
        if (failures.length) res.writeHead(207, { 'content-type': 'application/json' }).end(JSON.stringify({ failures }));
        else res.writeHead(200).end('ok');
      };
      if (mode.kind === 'slow') setTimeout(finish, mode.ms);
      else finish();
    });
  }
}

export interface DaemonOptions {
  sinkUrl: string;
  dir: string;
  /** Extra YAML merged into the exporter's config (indented by the caller). */
  exporterExtra?: string;
  processors?: string;
  processorNames?: string[];
  fsync?: string;
  maxSize?: string;
  persistent?: boolean;
  segmentSize?: string;
  queueSize?: number;
  block?: boolean;
  timeout?: string;
  maxElapsed?: string;
}

export function configYaml(o: DaemonOptions): string {
  const persistent = o.persistent !== false;
  return `plugins: [${JSON.stringify(PLUGIN)}]
extensions:
  file_storage:
    directory: ${JSON.stringify(join(o.dir, 'queue'))}
    fsync: ${o.fsync ?? 'write'}
    max_size: ${o.maxSize ?? '256MiB'}
    segment_size: ${o.segmentSize ?? '256KiB'}
receivers:
  httpingest:
    endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 20ms
    send_batch_size: 50
${o.processors ?? ''}
exporters:
  httpsink:
    endpoint: ${o.sinkUrl}
    timeout: ${o.timeout ?? '1s'}
    sending_queue:
      ${persistent ? 'storage: file_storage' : 'enabled: true'}
      num_consumers: 2
      queue_size: ${o.queueSize ?? 100000}
      sizer: items
      block_on_overflow: ${o.block ?? true}
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: ${o.maxElapsed ?? 0}
    dead_letter:
      path: ${JSON.stringify(join(o.dir, 'dead_letter'))}
${o.exporterExtra ?? ''}
service:
  extensions: [file_storage]
  data_dir: ${JSON.stringify(join(o.dir, 'data'))}
  grace_period: 5s
  telemetry:
    logs: { level: info }
    metrics: { address: 127.0.0.1:0 }
  pipelines:
    logs:
      receivers: [httpingest]
      processors: [${(o.processorNames ?? ['batch']).join(', ')}]
      exporters: [httpsink]
`;
}

/** rrpipe as a child process: `node bin/rrpipe.js run -c <config>`. */
export class Daemon {
  proc?: ChildProcess;
  ingestPort = 0;
  metricsPort = 0;
  logs: Record<string, unknown>[] = [];
  exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly configFile: string) {}

  static write(dir: string, yaml: string): string {
    const f = join(dir, 'rrpipe.yaml');
    writeFileSync(f, yaml);
    return f;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    this.ingestPort = 0;
    this.metricsPort = 0;
    const proc = spawn(process.execPath, [join(ROOT, 'bin/rrpipe.js'), 'run', '-c', this.configFile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    let buf = '';
    const ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`rrpipe did not start in ${timeoutMs}ms:\n${buf.slice(-2000)}`)), timeoutMs);
      proc.stderr!.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let o: Record<string, unknown>;
          try {
            o = JSON.parse(line) as Record<string, unknown>;
          } catch {
            o = { msg: line };
          }
          this.logs.push(o);
          if (o.msg === 'ingest listening') this.ingestPort = o.port as number;
          if (o.msg === 'metrics at /metrics') this.metricsPort = Number(String(o.address).split(':').pop());
          if (o.msg === 'rrpipe started') {
            clearTimeout(timer);
            resolveReady();
          }
        }
      });
      void this.exited!.then((e) => {
        clearTimeout(timer);
        reject(new Error(`rrpipe exited (${e.code ?? e.signal}) before it started:\n${this.logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}${buf}`));
      });
    });
    await ready;
  }

  kill9(): Promise<unknown> {
    this.proc?.kill('SIGKILL');
    return this.exited!;
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.proc?.kill('SIGTERM');
    return this.exited!;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** /metrics parsed into samples. */
  async metrics(): Promise<Metrics> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    return new Metrics(await res.text());
  }
}

export class Metrics {
  readonly samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      this.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }

  sum(name: string, labels: Record<string, string> = {}): number {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
  }

  /** received + recovered = sent + dead-lettered + dropped + still queued + refused back to the sender, for one exporter. */
  lossEquation(component: string): { left: number; right: number; parts: Record<'received' | 'recovered' | 'sent' | 'dead_lettered' | 'dropped' | 'queued' | 'refused', number> } {
    const l = { component };
    const parts = {
      received: this.sum('rrpipe_records_received_total', { ...l, kind: 'exporter' }),
      recovered: this.sum('rrpipe_records_recovered_total', l),
      sent: this.sum('rrpipe_records_sent_total', l),
      dead_lettered: this.sum('rrpipe_records_dead_lettered_total', l),
      dropped: this.sum('rrpipe_records_dropped_total', l),
      queued: this.sum('rrpipe_queue_size', l),
      refused: this.sum('rrpipe_records_refused_total', { ...l, kind: 'exporter' }),
    };
    return { left: parts.received + parts.recovered, right: parts.sent + parts.dead_lettered + parts.dropped + parts.queued + parts.refused, parts };
  }
}

/** Sends numbered RRPairs to the ingest receiver, resending until each batch is acknowledged. */
export class Feeder {
  next = 0;
  readonly acked = new Set<number>();
  backpressure = 0;
  connectionErrors = 0;
  private stopped = false;
  private loop?: Promise<void>;

  /**
   * `first`: the number of the first record (senders side by side take ranges of their own);
   * `authorization`: a request header every record carries (a credential redaction must remove).
   */
  constructor(private readonly port: () => number, private readonly batchSize = 20, private readonly pauseMs = 5, private readonly o: { first?: number; authorization?: string } = {}) {
    this.next = o.first ?? 0;
  }

  start(limit = Infinity): void {
    this.loop = this.run(limit);
  }

  private async run(limit: number): Promise<void> {
    while (!this.stopped && this.next < limit) {
      const nums = Array.from({ length: Math.min(this.batchSize, limit - this.next) }, (_, i) => this.next + i);
      const body = nums.map((n) => JSON.stringify(this.record(n))).join('\n') + '\n';
      for (;;) {
        if (this.stopped) return;
        const port = this.port();
        if (!port) {
          await sleep(20);
          continue;
        }
        try {
          const res = await fetch(`http://127.0.0.1:${port}/ingest`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
          await res.text();
          if (res.status === 200) {
            nums.forEach((n) => this.acked.add(n));
            break;
          }
          if (res.status === 503 || res.status === 429) this.backpressure++;
          await sleep(50);
        } catch {
          this.connectionErrors++;
          await sleep(50);
        }
      }
      this.next += nums.length;
      if (this.pauseMs) await sleep(this.pauseMs);
    }
  }

  private record(n: number): Record<string, unknown> {
    const rr = rrpair(n);
    if (this.o.authorization) (rr.http as { req: { headers: Record<string, string[]> } }).req.headers.Authorization = [this.o.authorization];
    return rr;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Wait until the feeder has had everything up to `limit` acknowledged. */
  async finished(): Promise<void> {
    await this.loop;
  }
}
