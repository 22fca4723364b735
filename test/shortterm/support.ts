import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { Component, Consumer, ExporterFactory, ReceiverFactory } from '../../src/core/component.js';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord, type RRRecord } from '../../src/core/record.js';
import type { Registry } from '../../src/core/registry.js';
import { noopMetrics, type ComponentMetrics } from '../../src/core/telemetry.js';
import { main } from '../../src/cli/main.js';
import { Service } from '../../src/service/service.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { loadSample, withPipeline } from '../support/index.js';


export function loadSamples(): RRPair[] {
  return ['openai-fine-tuning.raw.jsonl', 'openai-chat-completion-tool-calling.raw.jsonl'].flatMap(loadSample);
}

const SERVICES = ['orders', 'payments', 'frontend', 'inventory'];
const NAMESPACES = ['shop', 'billing'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const PATHS = ['/api/orders', '/api/orders/42', '/api/pay', '/health', '/v1/items/7/stock'];
const STATUSES = [200, 201, 204, 400, 404, 500, 503];

/** Deterministic RRPairs with known dimensions, spread over the `spanMs` before `now`. */
export function genRRPairs(n: number, now: number, spanMs = 2 * 3_600_000, seed = 1): RRPair[] {
  let s = seed;
  const rnd = (k: number) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s >>> 12) % k;
  };
  const out: RRPair[] = [];
  for (let i = 0; i < n; i++) {
    const tsMs = now - spanMs + Math.floor((spanMs * i) / n) + rnd(1000);
    const method = METHODS[rnd(METHODS.length)]!;
    const path = PATHS[rnd(PATHS.length)]!;
    const status = STATUSES[rnd(STATUSES.length)]!;
    const service = SERVICES[rnd(SERVICES.length)]!;
    const body = Buffer.from(`{"n":${i}}`).toString('base64');
    out.push({
      msgType: 'rrpair',
      resource: 'test',
      ts: new Date(tsMs).toISOString().replace('Z', `${String(i % 1000).padStart(3, '0')}Z`),
      l7protocol: 'http',
      duration: rnd(500),
      uuid: Buffer.from(`gen-${seed}-${String(i).padStart(10, '0')}`).toString('base64'),
      direction: rnd(2) ? 'IN' : 'OUT',
      cluster: 'test-cluster',
      namespace: NAMESPACES[rnd(NAMESPACES.length)]!,
      service,
      command: method,
      location: path,
      status: String(status),
      http: {
        req: { url: `${path}?q=${i}`, uri: `${path}?q=${i}`, version: '1.1', method, host: `${service}.svc`, headers: { 'X-Req': [String(i)] }, bodyBase64: body },
        res: { contentType: 'application/json', statusCode: status, statusMessage: 'x', headers: { 'Content-Type': ['application/json'] }, bodyBase64: body },
      },
    });
  }
  return out;
}

export function toRecords(rrs: RRPair[]): RRRecord[] {
  return rrs.map((rr) => newRecord(rr, { resource: { cluster: 'test-cluster' }, attributes: {} }));
}

export interface RefFilter {
  start?: number;
  end?: number;
  service?: string;
  namespace?: string;
  direction?: string;
  method?: string;
  status?: string;
  endpoint?: string;
}

/** The reference: which RRPairs a filter selects, computed straight from the RRPairs' own fields, in ts then id order. */
export function reference(rrs: RRPair[], f: RefFilter): string[] {
  const idOf = (r: RRPair) => r.uuid!;
  const sel = rrs.filter((r) => {
    const t = Date.parse(r.ts!);
    if (f.start !== undefined && t < f.start) return false;
    if (f.end !== undefined && t >= f.end) return false;
    if (f.service !== undefined && r.service !== f.service) return false;
    if (f.namespace !== undefined && r.namespace !== f.namespace) return false;
    if (f.direction !== undefined && r.direction !== f.direction) return false;
    if (f.method !== undefined && !new RegExp(f.method).test(r.command ?? '')) return false;
    if (f.status !== undefined && !new RegExp(f.status).test(r.status ?? '')) return false;
    if (f.endpoint !== undefined && !new RegExp(f.endpoint).test(r.location ?? '')) return false;
    return true;
  });
  const nanos = (ts: string) => {
    const m = /\.(\d+)Z$/.exec(ts);
    return `${new Date(Date.parse(ts)).toISOString().slice(0, 19)}.${(m?.[1] ?? '').padEnd(9, '0')}`;
  };
  return sel
    .map((r) => ({ k: nanos(r.ts!), id: idOf(r) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((x) => x.id);
}

/** Create an exporter the way the service does: from a YAML config (validated and defaulted). */
export async function exporterFromYaml<T extends Component & Consumer>(
  yamlText: string,
  id: string,
  opts: { metrics?: ComponentMetrics; file?: string; registry?: Registry } = {},
): Promise<T> {
  const registry = opts.registry ?? (await builtinRegistry());
  const file = opts.file ?? join(tmpdir(), 'rrpipe-test.yaml');
  const cfg = await loadConfig([file], { registry, texts: { [file]: withPipeline(yamlText) } });
  const c = cfg.components.exporters.get(id)!;
  return (await (c.factory as ExporterFactory).create({
    id, kind: 'exporter', config: c.config, logger: silentLogger(), metrics: opts.metrics ?? noopMetrics(), configDir: cfg.configDir,
  })) as T;
}

/** Run the rrpipe CLI in-process; stdout goes to a file read back. */
export async function runCli(args: string[], outDir: string): Promise<{ code: number; out: string; err: string }> {
  const outFile = join(outDir, `out-${Math.random().toString(36).slice(2)}.txt`);
  const errs: string[] = [];
  const origErr = console.error;
  console.error = (...a: unknown[]) => void errs.push(a.map(String).join(' '));
  try {
    const code = await main([...args, '--out', outFile]);
    let out = '';
    try {
      out = readFileSync(outFile, 'utf8');
    } catch {
      /* no output */
    }
    return { code, out, err: errs.join('\n') };
  } finally {
    console.error = origErr;
  }
}

export function writeConfig(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, withPipeline(text));
  return p;
}

/** A receiver for end-to-end tests: push(batch) hands records to the pipeline. */
export function testReceiverFactory(): ReceiverFactory & { push(batch: RRRecord[]): Promise<void> } {
  let next: Consumer | undefined;
  return {
    kind: 'receiver',
    type: 'testsource',
    stability: 'development',
    description: 'test receiver',
    schema: { type: 'object', properties: {}, additionalProperties: false, default: {} },
    create(_s, n) {
      next = n;
      return { async start() {}, async shutdown() {} };
    },
    async push(batch) {
      if (!next) throw new Error('testsource not created');
      await next.consume(batch, {});
    },
  };
}

/**
 * A running service whose test source pushes `rrs` into an embedded store at `dir`/api.db, served
 * by query_api on a free loopback port. `embedded` and `queryApi` add keys to those components.
 * The sending queue acknowledges before the write: callers wait for the records they need.
 */
export async function serveEmbedded(dir: string, rrs: RRPair[], extra: { embedded?: Record<string, unknown>; queryApi?: Record<string, unknown> } = {}): Promise<{ service: Service; port: number }> {
  const registry = await builtinRegistry();
  const source = testReceiverFactory();
  registry.registerPlugin({ factories: [source] }, 'test');
  const yaml = `
receivers:
  testsource: {}
exporters:
  embedded: ${JSON.stringify({ path: join(dir, 'api.db'), ...extra.embedded })}
extensions:
  query_api: ${JSON.stringify({ endpoint: '127.0.0.1:0', store: 'embedded', ...extra.queryApi })}
service:
  extensions: [query_api]
  data_dir: ${JSON.stringify(join(dir, 'data'))}
  telemetry: { metrics: { level: none } }
  pipelines:
    logs:
      receivers: [testsource]
      exporters: [embedded]
`;
  const service = new Service({ files: ['api.yaml'], texts: { 'api.yaml': yaml }, registry, logger: silentLogger() });
  await service.start();
  await source.push(toRecords(rrs));
  return { service, port: service.host!.getExtension<{ port: number }>('query_api')!.port };
}
