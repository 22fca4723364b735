// CPU cost per record of the logs → metrics connectors (rrpairmetrics RED, count, sum), next to
// the plain parse of the same records. `npm run build && node bench/metrics.mjs [records]`.
import { sampleLines } from './lib.mjs';
import { silentLogger } from '../dist/core/logger.js';
import { newRecord } from '../dist/core/record.js';
import { noopMetrics } from '../dist/core/telemetry.js';
import { factory as rrpairmetrics } from '../dist/connectors/rrpairmetrics/index.js';
import { factory as count } from '../dist/connectors/count/index.js';
import { factory as sum } from '../dist/connectors/sum/index.js';
import { validateAgainst } from '../dist/config/validate-schema.js';

const lines = sampleLines();
const N = Number(process.argv[2] ?? 50000);
const BATCH = 100;
const SERVICES = ['chat', 'files', 'jobs', 'billing', 'orders'];

function config(f, raw) {
  const v = structuredClone(raw);
  const p = validateAgainst(f.schema, v);
  if (p.length) throw new Error(JSON.stringify(p));
  return v;
}

let points = 0;
const sink = { consume: async (b) => { points += b.length; } };

function batch(i) {
  const b = [];
  for (let j = i; j < Math.min(N, i + BATCH); j++) {
    const rr = JSON.parse(lines[j % lines.length]);
    rr.service = SERVICES[j % SERVICES.length];
    rr.status = j % 17 === 0 ? '503' : '200';
    b.push(newRecord(rr, { attributes: { svc: rr.service, status: rr.status, duration_ms: rr.duration } }));
  }
  return b;
}

const rows = [];
async function measure(name, f, raw) {
  const c = f ? await f.create({ id: f.type, kind: 'connector', config: config(f, raw), logger: silentLogger(), metrics: noopMetrics(), configDir: '.' }, sink) : sink;
  for (let i = 0; i < 5; i++) await c.consume(batch(i * BATCH), {});
  points = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) await c.consume(batch(i), {});
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const u = process.cpuUsage(cpu0);
  const cpu = (u.user + u.system) / 1e6;
  console.log(`${name.padEnd(40)} ${((cpu / N) * 1e5).toFixed(2).padStart(7)} CPU s/100k  ${String(points).padStart(8)} points  (${N} records in ${s.toFixed(2)} s)`);
  rows.push({ area: 'metrics', case: name, records: N, seconds: s, cpu_seconds: cpu, cpu_s_per_100k: (cpu / N) * 1e5, extra: `${points} points`, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
}

console.log(`metrics bench: ${N} records cycled from ${lines.length} real RRPairs, batches of ${BATCH}`);
await measure('plain (parse, records to a sink)', undefined);
await measure('rrpairmetrics (cumulative, defaults)', rrpairmetrics, {});
await measure('rrpairmetrics (delta)', rrpairmetrics, { aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA' });
await measure('count (by svc, status)', count, { logs: { calls: { attributes: [{ key: 'svc' }, { key: 'status' }] } } });
await measure('sum (duration by svc)', sum, { logs: { d: { source_attribute: 'duration_ms', attributes: [{ key: 'svc' }] } } });
for (const r of rows) console.log(JSON.stringify(r));
