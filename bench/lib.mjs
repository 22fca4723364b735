// Shared helpers for benchmark cases. A case is a script in bench/cases/ that prints one JSON
// line per result row: { case, records, bytes, seconds, cpu_seconds, peak_rss_mb }.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The real RRPairs kept in the repository (test/testdata/samples/README.md says where they come from). */
export const SAMPLES = join(ROOT, 'test', 'testdata', 'samples');

/** Every sample RRPair as a raw.jsonl line, files in name order. */
export function sampleLines() {
  return readdirSync(SAMPLES).filter((f) => f.endsWith('.jsonl')).sort().flatMap((f) => readFileSync(join(SAMPLES, f), 'utf8').split('\n').filter((l) => l.trim()));
}

export function tmp() {
  return mkdtempSync(join(tmpdir(), 'rrpipe-bench-'));
}

/** A sample-shaped RRPair template (real headers), from the in-repo samples. */
function template() {
  return JSON.parse(readFileSync(join(SAMPLES, 'openai-chat-completion-tool-calling.raw.jsonl'), 'utf8').split('\n')[0]);
}

/** Deterministic pseudo-random, so every run benchmarks the same data. */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Write n RRPairs (JSON bodies of 0.5–20 KB) to a raw.jsonl file, in chunks; returns its size. */
export function writeJsonl(path, n, seed = 42) {
  const fd = openSync(path, 'w');
  const chunk = 1000;
  for (let i = 0; i < n; i += chunk) writeSync(fd, generateJsonl(Math.min(chunk, n - i), seed + i, i));
  closeSync(fd);
  return statSync(path).size;
}

/** n RRPairs with JSON bodies of 0.5–20 KB, as raw.jsonl text, numbered from `first`. */
export function generateJsonl(n, seed = 42, first = 0) {
  const base = template();
  const rand = rng(seed);
  const services = ['orders', 'payments', 'users', 'search', 'inventory'];
  const lines = [];
  const start = Date.parse('2025-03-18T00:00:00Z');
  for (let i = first; i < first + n; i++) {
    const rr = structuredClone(base);
    const size = 500 + Math.floor(rand() * 19_500);
    const body = { id: i, items: [], note: '' };
    while (JSON.stringify(body).length < size) body.items.push({ sku: `SKU-${Math.floor(rand() * 1e6)}`, qty: Math.floor(rand() * 10), price: Math.round(rand() * 10000) / 100 });
    rr.uuid = Buffer.from(i.toString(16).padStart(32, '0'), 'hex').toString('base64');
    rr.ts = new Date(start + i * 37).toISOString();
    rr.service = services[i % services.length];
    rr.http.res.bodyBase64 = Buffer.from(JSON.stringify(body)).toString('base64');
    rr.http.req.bodyBase64 = Buffer.from(JSON.stringify({ q: i })).toString('base64');
    lines.push(JSON.stringify(rr));
  }
  return lines.join('\n') + '\n';
}

/** Measure fn(): wall seconds, CPU seconds and peak RSS of this process while it runs. */
export async function measure(fn) {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { result, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, peak_rss_mb: peak / 2 ** 20 };
}

export function emit(row) {
  process.stdout.write(JSON.stringify(row) + '\n');
}

export function writeFile(path, text) {
  writeFileSync(path, text);
}

/** n RRPairs of about 2.1 KB (600-byte request, 1,500-byte response), 50 ms apart from 2025-06-01, over 4 services: the hot-store benches' records. */
export async function storeBenchRecords(n) {
  const { newRecord } = await import('../dist/core/record.js');
  const base = Date.parse('2025-06-01T00:00:00Z');
  const svcs = ['orders', 'payments', 'users', 'search'];
  return Array.from({ length: n }, (_, i) => newRecord({
    msgType: 'rrpair', ts: new Date(base + i * 50).toISOString(), l7protocol: 'http', duration: i % 300, direction: 'IN',
    uuid: Buffer.from(`bench-${String(i).padStart(10, '0')}`).toString('base64'), cluster: 'bench', namespace: 'ns', service: svcs[i % 4],
    http: { req: { method: 'GET', uri: `/api/items/${i}`, host: 'svc', headers: { Accept: ['application/json'] }, bodyBase64: Buffer.alloc(600, 1).toString('base64') },
      res: { statusCode: 200, headers: { 'Content-Type': ['application/json'] }, bodyBase64: Buffer.alloc(1500, 2).toString('base64') } },
  }));
}

/**
 * A local-directory native archive (raw_jsonl, gzip, with manifests) of n generated RRPairs,
 * written through the archive exporter in batches of 5,000. `tsOf(j)` gives record j's time;
 * each carries a random body of `bodyBytes`.
 */
export async function writeNativeArchive(archiveDir, dataDir, n, tsOf, bodyBytes) {
  const { randomBytes } = await import('node:crypto');
  const { archiveExporter } = await import(join(ROOT, 'dist/exporters/internal/archive/exporter.js'));
  const { LocalDirStore } = await import(join(ROOT, 'dist/layouts/local.js'));
  const { newRecord } = await import(join(ROOT, 'dist/core/record.js'));
  const { noopMetrics } = await import(join(ROOT, 'dist/core/telemetry.js'));
  const { silentLogger } = await import(join(ROOT, 'dist/core/logger.js'));
  const host = { dataDir, oneShot: true, getExtension: () => undefined, getExporter: () => undefined, reportStatus: () => undefined, status: () => ({}) };
  const helper = { timeout: 60_000, sending_queue: { enabled: false }, retry_on_failure: { enabled: false, initial_interval: 1, max_interval: 1, max_elapsed_time: 1, multiplier: 1, randomization_factor: 0 } };
  const exp = archiveExporter({ id: 'bench', kind: 'exporter', config: helper, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' }, () => new LocalDirStore(archiveDir), { spec: { layout: 'native', prefix: '', format: 'raw_jsonl', compression: 'gzip' }, writeManifest: true });
  await exp.start(host);
  for (let i = 0; i < n; i += 5000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      batch.push(newRecord({ msgType: 'rrpair', ts: tsOf(j), l7protocol: 'http', uuid: randomBytes(16).toString('base64'), service: `svc${j % 5}`, direction: 'IN', http: { req: { method: 'GET', url: `/api/${j % 100}`, headers: { Accept: ['application/json'] } }, res: { statusCode: 200, bodyBase64: randomBytes(bodyBytes).toString('base64') } } }));
    }
    await exp.consume(batch, {});
  }
  await exp.shutdown(AbortSignal.timeout(60_000));
}
