// Token finding alone (no record parse, no serialization): CPU µs per RRPair for findTokens over
// the real samples, and for what the tokenization processor does per batch of 100 (gunzipBodies,
// then findTokens), min of the rounds. Also a SHA-256 of the entries found over three passes, to
// check a change finds exactly the same. Run after a build: `node bench/tokens.mjs [rounds] [root]`
// (root: another built checkout, for an A/B against it).
import { createHash } from 'node:crypto';
import { ROOT, sampleLines } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 3);
const root = process.argv[3] ?? ROOT;
const { findTokens, RecurringValues, gunzipBodies } = await import(`${root}/dist/rrpair/tokens.js`);
const lines = sampleLines();
const opts = { jwt: true, auth: true, uuid: true, dates: true, recurring: true, maxBodyBytes: 8 << 20 };
const BATCH = 100;
const REPS = 20;

const hash = createHash('sha256');
let entries = 0;
const memory = new RecurringValues();
for (let pass = 0; pass < 3; pass++) {
  for (const l of lines) {
    const e = findTokens(JSON.parse(l), opts, memory);
    entries += e.length;
    hash.update(JSON.stringify(e));
  }
}
console.log(`tokens bench: ${lines.length} RRPairs × ${REPS}, ${rounds} rounds; entries over 3 passes ${entries}, sha256 ${hash.digest('hex').slice(0, 16)}`);

const parts = (batch) => batch.flatMap((rr) => [rr.http?.req, rr.http?.res]).filter((p) => p && typeof p.bodyBase64 === 'string');
const rows = [];
function measure(name, run) {
  let best = Infinity;
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    const objs = [];
    for (let k = 0; k < REPS; k++) for (const l of lines) objs.push(JSON.parse(l));
    const mem = new RecurringValues();
    const c0 = process.cpuUsage();
    run(objs, mem);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e6);
    n = objs.length;
  }
  console.log(`${name.padEnd(44)} ${((best / n) * 1e6).toFixed(1).padStart(7)} CPU µs/record  ${((best / n) * 1e5).toFixed(2).padStart(6)} CPU s/100k`);
  rows.push({ area: 'tokens', case: name, records: n, cpu_seconds: best, cpu_s_per_100k: (best / n) * 1e5, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
}

measure('findTokens (one body at a time)', (objs, mem) => {
  for (const o of objs) findTokens(o, opts, mem);
});
if (gunzipBodies) {
  measure('gunzipBodies per 100 + findTokens', (objs, mem) => {
    for (let b = 0; b < objs.length; b += BATCH) {
      const batch = objs.slice(b, b + BATCH);
      const withBodies = { ...opts, inflated: gunzipBodies(parts(batch), opts.maxBodyBytes) };
      for (const o of batch) findTokens(o, withBodies, mem);
    }
  });
}
for (const r of rows) console.log(JSON.stringify(r));
