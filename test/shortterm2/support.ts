import { rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Component, Consumer, ExporterFactory, Host } from '../../src/core/component.js';
import { validateAgainst } from '../../src/config/validate-schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import { noopMetrics } from '../../src/core/telemetry.js';
import type { QueryFilter, QueryHit, QueryableStore } from '../../src/core/query.js';
import { indexDocOf } from '../../src/rrpair/derive.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { KustoConnectionStringBuilder } from 'azure-kusto-data';
import { AdxStore, factory as adxFactory, type AdxExporterConfig } from '../../src/exporters/azuredataexplorer/index.js';
import { allSamples, readDeadLetters, testHost, tmp, type FakeKusto } from '../support/index.js';

/** The real RRPairs, as records. */
export function sampleRecords(): RRRecord[] {
  return allSamples().map((rr) => newRecord(rr, { resource: { cluster: 'c1' }, attributes: { service: 'openai-client', namespace: 'samples' } }));
}

/** Deterministic generated RRPairs across services, methods, statuses, and two days. */
export function generatedRecords(n: number, opts: { base?: number; services?: string[] } = {}): RRRecord[] {
  const base = opts.base ?? Date.parse('2025-06-01T23:00:00Z');
  const services = opts.services ?? ['orders', 'payments', 'users'];
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  const statuses = [200, 201, 404, 500];
  const out: RRRecord[] = [];
  for (let i = 0; i < n; i++) {
    const ms = base + i * 7_919; // crosses midnight for n > ~455
    const ns = String((i * 104_729) % 1_000_000).padStart(6, '0');
    const ts = `${new Date(ms).toISOString().slice(0, 23)}${ns}Z`;
    const method = methods[i % methods.length]!;
    const svc = services[i % services.length]!;
    const rr: RRPair = {
      msgType: 'rrpair', ts, l7protocol: 'http', duration: i % 97, direction: i % 2 ? 'IN' : 'OUT',
      uuid: Buffer.from(`gen-${String(i).padStart(12, '0')}`).toString('base64'),
      cluster: 'prod', namespace: 'shop', service: svc,
      http: {
        req: { method, uri: `/api/${svc}/${i}?q=${i}`, host: `${svc}.shop.svc`, headers: { Accept: ['application/json'] }, bodyBase64: Buffer.from(`{"n":${i}}`).toString('base64') },
        res: { statusCode: statuses[i % statuses.length]!, headers: { 'Content-Type': ['application/json'] }, bodyBase64: Buffer.from(`{"ok":${i}}`).toString('base64') },
      },
    };
    out.push(newRecord(rr, { observedNs: BigInt(Date.parse('2025-06-02T00:00:00Z')) * 1_000_000n + BigInt(i) }));
  }
  return out;
}

/** A record whose RRPair is about `bytes` long. */
export function hugeRecord(bytes: number): RRRecord {
  return newRecord({
    msgType: 'rrpair', ts: '2025-06-01T12:00:00.000000000Z', uuid: Buffer.from('huge-record-0001').toString('base64'), service: 'orders', cluster: 'prod', namespace: 'shop',
    http: { req: { method: 'POST', uri: '/upload' }, res: { statusCode: 200, bodyBase64: Buffer.alloc(Math.ceil((bytes * 3) / 4), 7).toString('base64') } },
  });
}

/** What a store should answer: the index documents (and RRPairs) of the records matching, in (ts, id) order. */
export function reference(records: RRRecord[], pred: (h: QueryHit) => boolean = () => true): QueryHit[] {
  const seen = new Map<string, QueryHit>();
  for (const r of records) {
    const doc = JSON.parse(JSON.stringify(indexDocOf(r)));
    seen.set(doc.id, { doc, rrpair: JSON.parse(JSON.stringify(r.rrpair)) });
  }
  return [...seen.values()].filter(pred).sort((a, b) => (a.doc.ts < b.doc.ts ? -1 : a.doc.ts > b.doc.ts ? 1 : a.doc.id < b.doc.id ? -1 : a.doc.id > b.doc.id ? 1 : 0));
}

/** Every page of a query, followed through `next`. */
export async function queryAll(store: QueryableStore, filter: QueryFilter): Promise<QueryHit[]> {
  const out: QueryHit[] = [];
  let after: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const page = await store.query({ ...filter, ...(after ? { after } : {}) });
    out.push(...page.hits);
    if (!page.next) return out;
    after = page.next;
  }
  throw new Error('too many pages');
}

export interface Built<C> {
  component: Component & Consumer & QueryableStore;
  host: Host & { deadLetters: () => Promise<{ reason: string; rrpair: RRPair }[]> };
  config: C;
  dir: string;
  stop(): Promise<void>;
}

/** Create an exporter from its factory with a config validated (defaults filled) by its schema. */
export async function build<C>(factory: ExporterFactory<C>, raw: Record<string, unknown>): Promise<Built<C>> {
  const config = structuredClone(raw);
  const problems = validateAgainst(factory.schema, config);
  if (problems.length) throw new Error(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; '));
  const dir = tmp('rrpipe-st2-');
  const host: Built<C>['host'] = {
    ...testHost(dir),
    async deadLetters() {
      await new Promise((r) => setTimeout(r, 150)); // the dead-letter file is written through a stream
      return readDeadLetters(dir);
    },
  };
  const component = (await factory.create({ id: factory.type, kind: 'exporter', config: config as C, logger: silentLogger(), metrics: noopMetrics(), configDir: dir })) as Built<C>['component'];
  await component.start(host);
  return {
    component, host, config: config as C, dir,
    async stop() {
      await component.shutdown(AbortSignal.timeout(10_000));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Send a batch and wait until the exporter's queue has delivered it (or dead-lettered it). */
export async function sendAndDrain(b: Built<unknown>, batches: RRRecord[][]): Promise<void> {
  for (const batch of batches) await b.component.consume(batch, {});
}

export function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * A TCP proxy in front of a server that can cut every open connection once a number of bytes
 * has gone from client to server: a connection dropped mid-batch.
 */
export class FlakyProxy {
  private server!: Server;
  private sockets = new Set<Socket>();
  private budget = Number.POSITIVE_INFINITY;
  drops = 0;
  port = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const cleanup = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('data', (d: Buffer) => {
        const before = this.budget;
        this.budget -= d.length;
        if (this.budget < 0) {
          this.budget = Number.POSITIVE_INFINITY;
          this.drops++;
          upstream.write(d.subarray(0, Math.max(0, before)));
          this.dropAll();
          return;
        }
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      client.on('error', cleanup).on('close', cleanup);
      upstream.on('error', cleanup).on('close', cleanup);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Cut all connections after `bytes` more bytes from clients. */
  dropAfter(bytes: number): void {
    this.budget = bytes;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** An azuredataexplorer store on a Kusto wire fake (managed ingestion, a fixed token), started. */
export async function adxStoreOn(kusto: FakeKusto): Promise<AdxStore> {
  const c = { cluster_uri: kusto.uri, ingest_uri: kusto.uri, ingestion_type: 'managed', use_azure_auth: true };
  const problems = validateAgainst(adxFactory.schema, c);
  if (problems.length) throw new Error(JSON.stringify(problems));
  const store = new AdxStore(c as unknown as AdxExporterConfig, silentLogger(), (uri) => KustoConnectionStringBuilder.withTokenProvider(uri, async () => 'fake-token'));
  await store.start();
  return store;
}
