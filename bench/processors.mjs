// Records/s through redaction + indexing + tokenization, next to the plain pipeline (no processors).
// Run after a build: `npm run build && node bench/processors.mjs [records]`. Uses the real RRPairs
// in test/testdata/samples, cycled to the requested count.
import { sampleLines } from './lib.mjs';
import { silentLogger } from '../dist/core/logger.js';
import { newRecord } from '../dist/core/record.js';
import { noopMetrics } from '../dist/core/telemetry.js';
import { factory as redaction } from '../dist/processors/redaction/index.js';
import { factory as indexing } from '../dist/processors/indexing/index.js';
import { factory as tokenization } from '../dist/processors/tokenization/index.js';
import { factory as filter } from '../dist/processors/filter/index.js';
import { validateAgainst } from '../dist/config/validate-schema.js';
import { findTokens, gunzipBodies, RecurringValues } from '../dist/rrpair/tokens.js';
import { bodyKind, contentTypeOf, decodeBody, utf8OrUndefined } from '../dist/rrpair/body.js';

const lines = sampleLines();
const N = Number(process.argv[2] ?? 20000);
const BATCH = 100;

function config(f, raw) {
  const v = structuredClone(raw);
  const p = validateAgainst(f.schema, v);
  if (p.length) throw new Error(JSON.stringify(p));
  return v;
}

// The sink serializes every record, as an exporter writing raw.jsonl would.
let sinkBytes = 0;
async function chain(factories) {
  let next = { consume: async (batch) => { for (const r of batch) sinkBytes += JSON.stringify(r.rrpair).length; } };
  for (const [f, raw] of [...factories].reverse()) {
    if (typeof f === 'function') {
      next = f(next);
      continue;
    }
    next = await f.create({ id: f.type, kind: 'processor', config: config(f, raw), logger: silentLogger(), metrics: noopMetrics(), pipeline: 'bench', configDir: '.' }, next);
  }
  return next;
}

function batch(i) {
  const b = [];
  for (let j = i; j < Math.min(N, i + BATCH); j++) b.push(newRecord(JSON.parse(lines[j % lines.length])));
  return b;
}

async function measure(name, factories) {
  const head = await chain(factories);
  for (let i = 0; i < 5; i++) await head.consume(batch(i * BATCH), {}); // warm-up
  // Each case pays the same JSON.parse of every line and JSON.stringify at the sink: the plain
  // pipeline is parse → serialize, the others add their processors in between.
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) await head.consume(batch(i), {});
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  const rps = Math.round(N / s);
  // records/s on one core: CPU time, not wall time, so a shared machine does not hide the cost.
  const cpuRps = Math.round(N / cpu);
  console.log(`${name.padEnd(44)} ${String(rps).padStart(8)} records/s  ${String(cpuRps).padStart(8)} records per CPU s  ${((cpu / N) * 1e5).toFixed(2).padStart(7)} CPU s/100k  (${N} records in ${s.toFixed(2)} s)`);
  rows.push({ area: 'processors', case: name, records: N, seconds: s, cpu_seconds: cpu, cpu_s_per_100k: (cpu / N) * 1e5, records_per_cpu_s: cpuRps, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
  return cpuRps;
}

/**
 * What any tokenization must pay on this corpus, with no detection at all: the bodies gunzipped
 * (as the processor does, a batch at a time) and JSON.parse'd, and the same token entries attached
 * (found once before the run, from a memory already warm), so the sink serialises the same output.
 * Records per CPU s here bound what the tokenization case can reach.
 */
function tokenizationFloor(next) {
  const opts = { jwt: true, auth: true, uuid: true, dates: true, recurring: true, maxBodyBytes: 8 << 20 };
  const memory = new RecurringValues();
  const entriesOf = new Map();
  for (let pass = 0; pass < 2; pass++) for (const l of lines) {
    const rr = JSON.parse(l);
    entriesOf.set(rr.uuid, findTokens(rr, opts, memory));
  }
  if (entriesOf.size !== lines.length) throw new Error('tokenization floor: the samples need distinct uuids');
  const parts = (batch) => batch.flatMap((r) => [r.rrpair.http?.req, r.rrpair.http?.res]).filter((p) => p && typeof p.bodyBase64 === 'string' && p.bodyBase64);
  return {
    consume(batch, ctx) {
      const inflated = gunzipBodies(parts(batch), opts.maxBodyBytes);
      for (const r of batch) {
        for (const part of [r.rrpair.http?.req, r.rrpair.http?.res]) {
          if (!part || typeof part.bodyBase64 !== 'string' || !part.bodyBase64) continue;
          const dec = inflated.get(part) ?? decodeBody(part.bodyBase64, part.headers, opts.maxBodyBytes);
          const text = dec.bytes ? utf8OrUndefined(dec.bytes) : undefined;
          if (text !== undefined && bodyKind(contentTypeOf(part), text) === 'json') {
            try {
              JSON.parse(text);
            } catch {
              /* text */
            }
          }
        }
        const entries = entriesOf.get(r.rrpair.uuid);
        if (entries.length) r.rrpair.tokens = entries;
      }
      return next.consume(batch, ctx);
    },
  };
}

const rows = [];
const only = process.env.BENCH_PROCESSORS ? new RegExp(process.env.BENCH_PROCESSORS) : undefined;
const bytes = lines.reduce((a, l) => a + l.length, 0) / lines.length;
console.log(`processors bench: ${N} records cycled from ${lines.length} real RRPairs (avg ${Math.round(bytes)} B/line), batches of ${BATCH}`);
const cases = [
  ['plain (parse + serialize, no processors)', []],
  ['indexing', [[indexing, {}]]],
  // workers: 0: one core, on the calling thread (process.cpuUsage would count a worker's CPU too, and its crossing)
  ['redaction', [[redaction, { secret: 'bench', workers: 0 }]]],
  ['tokenization (annotate)', [[tokenization, {}]]],
  ['tokenization floor (no detection)', [[tokenizationFloor]]],
  ['filter (exclude + sample)', [[filter, { exclude: { rules: [{ field: 'status', range: { min: 500 } }] }, sample: [{ keep: 1000, window: '1m' }] }]]],
  ['redaction + indexing + tokenization', [[tokenization, {}], [redaction, { secret: 'bench', workers: 0 }], [indexing, {}]]],
];
for (const [name, chainOf] of cases) if (!only || only.test(name)) await measure(name, chainOf);
for (const r of rows) console.log(JSON.stringify(r));
