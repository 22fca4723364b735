// Redactor.redact alone over the real samples: µs per record, and a SHA-256 of what it produced
// under several configs, so two builds can be compared for speed and for identical output.
// `npm run build && node bench/redaction.mjs [records] [build root]` (root: this checkout; give
// another checkout's root to measure its build with the same script, e.g. an A/B against a base).
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { emit, ROOT, sampleLines } from './lib.mjs';

const N = Number(process.argv[2] ?? 3000);
const root = resolve(process.argv[3] ?? ROOT);
const { Redactor } = await import(join(root, 'dist/processors/redaction/redactor.js'));
const { factory } = await import(join(root, 'dist/processors/redaction/index.js'));
const { validateAgainst } = await import(join(root, 'dist/config/validate-schema.js'));
const lines = sampleLines();

function redactor(raw) {
  const v = structuredClone(raw);
  const problems = validateAgainst(factory.schema, v);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return new Redactor(v);
}

// Output identity: every sample redacted (and its first 3,000 characters as a malformed line).
const configs = [
  { secret: 'bench' },
  { secret: 'bench', action: 'hash' },
  { secret: 'bench', action: 'drop' },
  { secret: 'bench', keep_auth_scheme: false, detectors: { ip: false, email: false } },
  { secret: 'bench', rules: [{ name: 'model', key: '^model$' }, { path: '$.choices', action: 'drop' }, { value: 'gpt-[0-9a-z.-]+', category: 'MODEL' }], allow: { keys: ['^id$'], values: ['127\\.0\\.0\\.1'] } },
  { secret: 'bench', max_body_size: '2KiB' },
];
const hash = createHash('sha256');
let findings = 0;
for (const c of configs) {
  const r = redactor(c);
  for (const l of lines) {
    const rr = JSON.parse(l);
    const res = r.redact(rr);
    findings += res.findings.length;
    hash.update(JSON.stringify(rr)).update(JSON.stringify(res)).update(JSON.stringify(r.redactText(l.slice(0, 3000))));
  }
}

// The same through the processor (batches of 50: its own body inflate ahead, counters, summary),
// hashed apart, since a build may redact a batch differently from one record at a time.
const { silentLogger } = await import(join(root, 'dist/core/logger.js'));
const { newRecord } = await import(join(root, 'dist/core/record.js'));
const { noopMetrics } = await import(join(root, 'dist/core/telemetry.js'));
const procHash = createHash('sha256');
// (with gunzip_thread where the build has it: its bodies gunzipped in a helper thread)
const threaded = factory.schema.properties?.gunzip_thread ? { gunzip_thread: true } : {};
for (const c of [...configs, { secret: 'bench', summary_attribute: 'dlp' }]) {
  const v = { ...structuredClone(c), ...threaded };
  validateAgainst(factory.schema, v);
  const sink = { consume: async (batch) => { for (const r of batch) procHash.update(JSON.stringify(r.rrpair)).update(JSON.stringify(r.attributes)); } };
  const proc = factory.create({ id: 'redaction', kind: 'processor', config: v, logger: silentLogger(), metrics: noopMetrics(), pipeline: 'bench', configDir: '.' }, sink);
  for (let i = 0; i < lines.length; i += 50) await proc.consume(lines.slice(i, i + 50).map((l) => newRecord(JSON.parse(l))), {});
  await proc.shutdown?.();
}

function cpuPerRecord(r, objs) {
  const c0 = process.cpuUsage();
  for (const o of objs) r.redact(o);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / objs.length;
}

// Cycled: one redactor over N records cycled from the samples (min of 3 rounds).
const cycled = redactor({ secret: 'bench' });
for (let i = 0; i < 400; i++) cycled.redact(JSON.parse(lines[i % lines.length]));
let cycledUs = Infinity;
for (let round = 0; round < 3; round++) {
  const objs = Array.from({ length: N }, (_, i) => JSON.parse(lines[i % lines.length]));
  cycledUs = Math.min(cycledUs, cpuPerRecord(cycled, objs));
}
// Fresh: a new redactor per round over each sample once, so no record is seen twice (what any
// cache keeps is only what repeats within the samples). Min of rounds 4–15 (JIT warm).
let freshUs = Infinity;
for (let round = 0; round < 15; round++) {
  const us = cpuPerRecord(redactor({ secret: 'bench' }), lines.map((l) => JSON.parse(l)));
  if (round >= 3) freshUs = Math.min(freshUs, us);
}

console.log(`redaction bench (${root}): ${cycledUs.toFixed(1)} µs/record cycled, ${freshUs.toFixed(1)} µs/record fresh, output ${hash.digest('hex').slice(0, 16)} (${findings} findings), processor output ${procHash.digest('hex').slice(0, 16)}`);
emit({ area: 'redaction', case: 'Redactor.redact over the samples', records: N, us_per_record_cycled: +cycledUs.toFixed(1), us_per_record_fresh: +freshUs.toFixed(1), cpu_s_per_100k: +(cycledUs / 10).toFixed(2) });
