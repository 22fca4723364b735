import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import type { Consumer, ExporterFactory, FiniteReceiver, ReceiverFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { Service } from '../../src/service/service.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { loadSample, tmp } from '../support/index.js';

/** The real samples plus `n` generated RRPairs spread over 30 hours from `base`. */
export function corpus(n: number, base = Date.parse('2025-03-18T00:00:00Z')): RRPair[] {
  const out: RRPair[] = [];
  for (const f of ['openai-fine-tuning.raw.jsonl', 'openai-chat-completion-tool-calling.raw.jsonl']) out.push(...loadSample(f));
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

/**
 * Rehydrates `from` into the memsink `name` in a one-shot run and returns what arrived; `settings`
 * are the rehydrate receiver's other keys (connection, start, end, parallel, filter).
 */
export async function rehydrateInto(name: string, from: string, settings: Record<string, unknown>): Promise<RRRecord[]> {
  sinks.set(name, { records: [] });
  await runOnce(`
service:
  data_dir: ${JSON.stringify(tmp('data'))}
  pipelines:
    logs/back: { receivers: [rehydrate], exporters: [memsink] }
receivers:
  rehydrate: ${JSON.stringify({ from, ...settings })}
exporters:
  memsink: { name: ${JSON.stringify(name)} }
`);
  return sinks.get(name)!.records;
}

/** Every record arrived exactly once and equals its source RRPair (`want`: uuid → canon(pair)). */
export function expectSameRecords(got: { rrpair: RRPair }[], want: Map<string, string>): void {
  expect(got.length).toBe(want.size);
  expect(new Set(got.map((r) => r.rrpair.uuid)).size).toBe(want.size);
  for (const r of got) {
    const w = want.get(r.rrpair.uuid!);
    if (canon(r.rrpair) !== w) expect(canon(r.rrpair)).toBe(w);
  }
}
