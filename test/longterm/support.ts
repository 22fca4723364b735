import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { builtinRegistry } from '../../src/components.js';
import type { Consumer, ExporterFactory, FiniteReceiver, ReceiverFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { Service } from '../../src/service/service.js';
import type { RRPair } from '../../src/rrpair/types.js';

export const SAMPLES = '/work/shared/samples';
const root = resolve(import.meta.dirname, '../..');

export function tmp(name: string): string {
  return mkdtempSync(join(tmpdir(), `rrpipe-lt-${name}-`));
}

/** The real samples plus `n` generated RRPairs spread over 30 hours from `base`. */
export function corpus(n: number, base = Date.parse('2025-03-18T00:00:00Z')): RRPair[] {
  const out: RRPair[] = [];
  for (const f of ['openai-fine-tuning.raw.jsonl', 'openai-chat-completion-tool-calling.raw.jsonl']) {
    for (const line of readFileSync(join(SAMPLES, f), 'utf8').split('\n')) if (line.trim()) out.push(JSON.parse(line));
  }
  const services = ['orders', 'payments', 'web/frontend'];
  const span = 30 * 3_600_000;
  for (let i = 0; i < n; i++) {
    const ms = base + Math.floor((i * span) / n);
    const svc = services[i % services.length]!;
    out.push({
      msgType: 'rrpair',
      resource: 'gen',
      ts: new Date(ms).toISOString().replace('Z', '') + String(i % 1000).padStart(3, '0') + 'Z',
      l7protocol: 'http',
      duration: i % 500,
      uuid: randomBytes(16).toString('base64'),
      direction: i % 2 ? 'IN' : 'OUT',
      cluster: 'prod-east',
      namespace: 'shop',
      service: svc,
      command: i % 3 ? 'GET' : 'POST',
      location: `/api/items/${i % 17}`,
      status: i % 11 ? '200' : '500',
      http: { req: { method: i % 3 ? 'GET' : 'POST', url: `/api/items/${i % 17}`, uri: `/api/items/${i % 17}?q=${i}`, host: 'api.shop.local', headers: { Accept: ['application/json'] } }, res: { statusCode: i % 11 ? 200 : 500, headers: { 'Content-Type': ['application/json'] }, bodyBase64: Buffer.from(JSON.stringify({ i })).toString('base64') } },
    });
  }
  return out;
}

/** Canonical form for comparing RRPairs whatever the key order. */
export function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
}

/** Test-only components: a finite source of given records and a sink that keeps what it gets. */
export interface Sink {
  records: RRRecord[];
  onBatch?: (n: number) => void;
}
export const sinks = new Map<string, Sink>();
export const sources = new Map<string, RRPair[]>();

const memsource: ReceiverFactory<{ name: string; batch: number }> = {
  kind: 'receiver',
  type: 'memsource',
  stability: 'development',
  description: 'test source',
  schema: { type: 'object', properties: { name: { type: 'string' }, batch: { type: 'integer', default: 1000 } }, additionalProperties: false },
  create(s, next: Consumer): FiniteReceiver {
    let done!: Promise<void>;
    return {
      async start() {
        const pairs = sources.get(s.config.name) ?? [];
        done = (async () => {
          for (let i = 0; i < pairs.length; i += s.config.batch) {
            await next.consume(pairs.slice(i, i + s.config.batch).map((p) => newRecord(structuredClone(p))), {});
          }
        })();
      },
      done: () => done,
      async shutdown() {
        await done?.catch(() => undefined);
      },
    };
  },
};

const memsink: ExporterFactory<{ name: string }> = {
  kind: 'exporter',
  type: 'memsink',
  stability: 'development',
  description: 'test sink',
  schema: { type: 'object', properties: { name: { type: 'string' } }, additionalProperties: false },
  create(s) {
    const sink = sinks.get(s.config.name)!;
    return {
      async start() {},
      async shutdown() {},
      async consume(batch) {
        sink.records.push(...batch);
        sink.onBatch?.(batch.length);
      },
    };
  },
};

export async function registry() {
  const r = await builtinRegistry();
  r.register(memsource);
  r.register(memsink);
  return r;
}

/** Run a config once: start, wait for the finite receivers, drain, stop. */
export async function runOnce(yamlText: string, opts: { beforeDone?: (svc: Service) => Promise<void> } = {}): Promise<Service> {
  const svc = new Service({ files: ['t.yaml'], texts: { 't.yaml': yamlText.replace(/^service:\n/m, 'service:\n  telemetry: { metrics: { level: none } }\n') }, registry: await registry(), logger: silentLogger(), oneShot: true });
  await svc.start();
  if (opts.beforeDone) await opts.beforeDone(svc);
  else await svc.receiversDone();
  await svc.shutdown();
  return svc;
}

export interface S3Event {
  eventName: string;
  s3: { object: { key: string; size?: number } };
}

/** s3rver on an ephemeral port, with the given buckets; `events` are its S3 notifications (ObjectCreated:Put, :Post for a completed multipart upload). */
export async function startS3(buckets: string[]): Promise<{ endpoint: string; dir: string; events: S3Event[]; stop(): Promise<void> }> {
  const { default: S3rver } = (await import('s3rver')) as unknown as {
    default: new (o: object) => { run(): Promise<AddressInfo>; close(): Promise<void>; on(ev: 'event', fn: (e: { Records: S3Event[] }) => void): void };
  };
  const dir = tmp('s3');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
  const events: S3Event[] = [];
  server.on('event', (e) => events.push(...e.Records));
  const addr = await server.run();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    dir,
    events,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Azurite's blob service on an ephemeral port. */
export async function startAzurite(): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const dir = tmp('azurite');
  const bin = join(root, 'node_modules', '.bin', 'azurite-blob');
  const child: ChildProcess = spawn(bin, ['--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--skipApiVersionCheck', '--loose', '--disableProductStyleUrl', '--disableTelemetry'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`azurite did not start: ${out}`)), 20_000);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = /(?:listening at|listens on) http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => rej(new Error(`azurite exited ${code}: ${out}`)));
  }).catch((err) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `n` RRPairs in one hour and one service (so the native layout puts them in one object), each
 * with `bodyBytes` of random (incompressible) response body: n × bodyBytes × 4/3 bytes of JSON.
 */
export function bigPairs(n: number, bodyBytes: number, hour = '2025-03-19T07'): RRPair[] {
  return Array.from({ length: n }, (_, i) => ({
    msgType: 'rrpair',
    resource: 'big',
    ts: `${hour}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0').slice(-6)}Z`,
    l7protocol: 'http',
    duration: i,
    uuid: randomBytes(16).toString('base64'),
    direction: 'IN',
    cluster: 'prod-east',
    namespace: 'shop',
    service: 'blobs',
    command: 'GET',
    location: `/blob/${i}`,
    status: '200',
    http: { req: { method: 'GET', url: `/blob/${i}`, uri: `/blob/${i}`, host: 'blobs.shop.local', headers: {} }, res: { statusCode: 200, headers: { 'Content-Type': ['application/octet-stream'] }, bodyBase64: randomBytes(bodyBytes).toString('base64') } },
  }));
}
