// Records/s and CPU seconds per 100k records through the OTTL processors (filter's OTel form,
// transform) and the attributes processor, next to the plain pipeline. Run after a build:
// `npm run build && node bench/ottl.mjs [records]`. Uses the in-repo sample RRPairs
// (test/testdata/samples), cycled to the requested count.
import { sampleLines } from './lib.mjs';
import { silentLogger } from '../dist/core/logger.js';
import { newRecord } from '../dist/core/record.js';
import { noopMetrics } from '../dist/core/telemetry.js';
import { factory as filter } from '../dist/processors/filter/index.js';
import { factory as transform } from '../dist/processors/transform/index.js';
import { factory as attributes } from '../dist/processors/attributes/index.js';
import { validateAgainst } from '../dist/config/validate-schema.js';

const lines = sampleLines();
const N = Number(process.argv[2] ?? 100000);
const BATCH = 100;
const apps = ['banking-gateway', 'banking-transactions', 'cart'];

function config(f, raw) {
  const v = structuredClone(raw);
  const p = [...validateAgainst(f.schema, v), ...(f.validate?.(v) ?? [])];
  if (p.length) throw new Error(JSON.stringify(p));
  return v;
}

async function chain(factories) {
  let next = { consume: async () => {} };
  for (const [f, raw] of [...factories].reverse()) {
    next = await f.create({ id: f.type, kind: 'processor', config: config(f, raw), logger: silentLogger(), metrics: noopMetrics(), pipeline: 'bench', configDir: '.' }, next);
  }
  return next;
}

// RRPairs are parsed once and shared (the statements measured do not change the body), so the
// figures are the processors' own cost, not JSON parsing.
const parsed = lines.map((l, k) => {
  const rr = JSON.parse(l);
  rr.tags = { ...rr.tags, k8sAppPodNamespace: 'banking-app', k8sAppLabel: apps[k % apps.length] };
  return rr;
});
function batch(i) {
  const b = [];
  for (let j = i; j < Math.min(N, i + BATCH); j++) {
    const rr = parsed[j % parsed.length];
    b.push(newRecord(rr, { attributes: { service: rr.service ?? 'svc', namespace: 'banking-app' }, resource: { cluster: 'c1' } }));
  }
  return b;
}

async function measure(name, factories) {
  const head = await chain(factories);
  for (let i = 0; i < 5; i++) await head.consume(batch(i * BATCH), {}).catch(() => {});
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) await head.consume(batch(i), {});
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  console.log(`${name.padEnd(52)} ${String(Math.round(N / s)).padStart(8)} records/s  ${((cpu * 100000) / N).toFixed(2).padStart(6)} CPU s/100k  (${N} records)`);
}

const cond = (app) => `body["tags"]["k8sAppPodNamespace"] == "banking-app" and body["tags"]["k8sAppLabel"] == "${app}"`;
console.log(`ottl bench: ${N} records cycled from ${lines.length} real RRPairs, batches of ${BATCH}`);
await measure('plain (no processors)', []);
await measure('filter byoc_unmatched (2 OTTL conditions)', [[filter, { error_mode: 'ignore', logs: { log_record: [cond(apps[0]), cond(apps[1])] } }]]);
await measure('transform grafana rrpair-attrs (4 set)', [[transform, { log_statements: [{ context: 'log', statements: ['set(attributes["svc"], body["service"])', 'set(attributes["status"], body["status"])', 'set(attributes["l7"], body["l7protocol"])', 'set(attributes["duration_ms"], Double(body["duration"]))'] }] }]]);
await measure('transform + filter http-only (grafana logs/metrics)', [
  [transform, { log_statements: [{ context: 'log', statements: ['set(attributes["l7"], body["l7protocol"])'] }] }],
  [filter, { error_mode: 'ignore', logs: { log_record: ['attributes["l7"] != "http"'] } }],
]);
await measure('transform IsMatch + Concat where', [[transform, { log_statements: ['set(attributes["route"], Concat([body["http"]["req"]["method"], body["http"]["req"]["uri"]], " ")) where IsMatch(body["http"]["req"]["uri"], "^/v1/")'] }]]);
await measure('attributes (upsert, hash, extract, convert)', [[attributes, { actions: [
  { key: 'env', value: 'prod', action: 'upsert' },
  { key: 'service', action: 'hash' },
  { key: 'namespace', action: 'extract', pattern: '^(?P<ns_team>[a-z]+)-(?P<ns_app>[a-z]+)$' },
  { key: 'env', action: 'convert', converted_type: 'string' },
] }]]);
