// SHA-256 of what the tokenization processor outputs (annotate, parameterize, small memory,
// some detectors off) on the samples, generated records and a seeded corpus of edge cases
// (escapes, odd and duplicate keys, invalid JSON, deflate/gzip/invalid bodies, JWTs, UUIDs,
// dates, recurring values), so that a change meant to be faster can be shown to give the same
// records: `npm run build && node bench/tokenization-digest.mjs [other worktree, built]`.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import { ROOT, sampleLines, generateJsonl } from './lib.mjs';

const root = process.argv[2] ? resolve(process.argv[2]) : ROOT;
const { factory } = await import(root + '/dist/processors/tokenization/index.js');
const { newRecord } = await import(root + '/dist/core/record.js');
const { noopMetrics } = await import(root + '/dist/core/telemetry.js');
const { silentLogger } = await import(root + '/dist/core/logger.js');
const { validateAgainst } = await import(root + '/dist/config/validate-schema.js');
const { encodeJwt } = await import(root + '/dist/rrpair/tokens.js');

/** n RRPairs built from a seeded mix of the values and shapes the finder treats specially. */
function edgeCases(n, seed) {
  let st = seed >>> 0;
  const r = () => ((st = (st * 1664525 + 1013904223) >>> 0) / 2 ** 32); const pick = (a) => a[Math.floor(r() * a.length)];
  const jwt = encodeJwt({ typ: 'JWT', alg: 'HS256' }, { sub: 'u', iat: 1742258500, exp: 1742262100 }, 'k');
  const jwtNone = encodeJwt({ typ: 'JWT' }, { nbf: 1742258500 });
  const ids = Array.from({ length: 30 }, (_, i) => pick(['file-', 'ftjob-', 'id_', 'X', '9', 'ab.cd:', '_bad', '-bad']) + Math.floor(r() * 1e9).toString(36) + i);
  const uuid = () => '3f2b8c1e-9d4a-4b7e-8f00-0a1b2c3d4e5f'.replace(/[0-9a-f]/g, () => pick('0123456789abcdefABCDEF'.split('')));
  const strs = () => pick([
    () => pick(ids), () => uuid(), () => `x ${uuid()} y ${uuid()}`, () => `${uuid()}${uuid()}`, () => jwt, () => `Bearer ${jwt}`, () => `see ${jwt} and ${jwtNone}`, () => 'eyJ.notajwt.eyJx',
    () => '2025-03-18T00:41:46.221941Z', () => '2025-03-18t00:41:46+01:00', () => '2025-03-18 00:41:46Z', () => 'at 2025-03-18T00:41:46Z and 2025-13-45T00:00:00Z!', () => 'Tue, 18 Mar 2025 00:41:46 GMT',
    () => 'Step 12/100: training loss=1.23', () => 'short', () => 'ünïcödé-ÿ ' + pick(ids), () => 'emoji 😀 ' + uuid(), () => 'a\\b"c\nd\u0001' + pick(ids), () => '12:34:56 time', () => 'x'.repeat(200),
    () => pick(ids) + '\u00e9', () => '', () => '1742258505', () => 'a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v', () => 'A1B2C3D4', () => '1.2.3.4.5.6.7.8',
  ])();
  const nums = () => pick([1742258505, 1742258505123, 946684800, 946684799, 4102444799, 4102444800, 946684800000, 4102444799999, 1.5, -1742258505, 0, 12345, 1e9, 1.7e12, 2 ** 53, 999999999999]);
  const keys = () => pick(['id', 'created_at', 'data', 'a b', "it's", 'x.y', '0', '12', '4294967295', '01', '$k', '_k', 'k-1', '-k', '__proto__', 'ünï', 'a\\', "b']['c", 'toString', '', 'constructor']);
  const val = (d) => { const k = r(); if (d > 3 || k < 0.35) return strs(); if (k < 0.55) return nums(); if (k < 0.6) return pick([true, false, null]); if (k < 0.8) return Array.from({ length: Math.floor(r() * 4) }, () => val(d + 1)); const o = {}; for (let i = 0, m = Math.floor(r() * 5); i < m; i++) o[keys()] = val(d + 1); return o; };
  const lines = [];
  for (let i = 0; i < n; i++) {
    const sess = pick(['s1', 's2', undefined]);
    let resBody = JSON.stringify(val(0), null, pick([0, 2]));
    if (r() < 0.05) resBody = resBody.replace(/"id":/, '"id": "dup", "id":'); // duplicate keys
    if (r() < 0.05) resBody = resBody.slice(0, -1); // invalid json
    if (r() < 0.05) resBody = '  ' + resBody;
    if (r() < 0.05) resBody = '\ufeff' + resBody;
    let reqBody = r() < 0.5 ? JSON.stringify({ file: pick(ids), ids: [pick(ids), pick(ids)], when: nums(), s: strs() }) : r() < 0.5 ? `text ${pick(ids)} ${strs()}` : '';
    const enc = (s, how) => { const b = Buffer.from(s); return how === 'gzip' ? gzipSync(b).toString('base64') : how === 'deflate' ? deflateSync(b).toString('base64') : how === 'bad' ? 'H4sI$$$' : how === 'latin1' ? Buffer.from([0xff, 0xfe, 0x41]).toString('base64') : b.toString('base64'); };
    const how = pick(['gzip', 'gzip', 'gzip', 'id', 'deflate', 'bad', 'latin1']);
    const ct = pick(['application/json', 'application/json; charset=utf-8', 'text/plain', undefined, 'application/x-ndjson']);
    const rr = {
      msgType: 'rrpair', ts: '2025-03-18T00:41:46.221941Z', uuid: r() < 0.9 ? Buffer.from(String(i)).toString('base64') : undefined, ...(sess ? { session: sess } : { cluster: 'c', service: pick(['a', 'b']) }),
      http: {
        req: { method: 'GET', uri: pick([`/v1/files/${pick(ids)}`, `/a/${uuid()}/b?since=${encodeURIComponent('2025-03-18T00:41:46Z')}&id=${pick(ids)}&q=a+b%20c&bad=%E0%A4%A&=x&k`, `/p/%7B${pick(ids)}%7D/`, '/', `/x/${jwt}`]),
          headers: { Authorization: [pick([`Bearer ${jwt}`, 'Bearer abcdef123', `Basic ${btoa('u:p')}`, 'bearer   tok', 'Token x'])], 'X-Id': [pick(ids), uuid()], 'If-Modified-Since': ['Mon, 17 Mar 2025 10:00:00 GMT'], Host: ['h'], 'X-Stainless-Os': [uuid()], 'X-Num': [5] , ...(ct ? { 'Content-Type': [ct] } : {}) },
          ...(reqBody ? { bodyBase64: enc(reqBody, pick(['id', 'gzip'])) } : {}) },
        res: { statusCode: 200, headers: { Date: ['Tue, 18 Mar 2025 00:41:46 GMT'], 'Set-Cookie': [`sid=${uuid()}`], ...(r() < 0.7 ? { 'Content-Encoding': [how === 'deflate' ? 'deflate' : 'gzip'] } : {}), ...(ct ? { 'Content-Type': [ct] } : {}) }, bodyBase64: enc(resBody, how) },
      },
      ...(r() < 0.05 ? { tokens: [{ location: 'x', pattern: 'P', replacementValue: 'eA==' }] } : {}), ...(r() < 0.02 ? { tokens: 'taken' } : {}),
    };
    lines.push(JSON.stringify(rr));
  }
  return lines;
}

async function run(lines, cfg) {
  const out = [];
  const v = structuredClone(cfg); const p = validateAgainst(factory.schema, v); if (p.length) throw new Error(JSON.stringify(p));
  const proc = await factory.create({ id: 't', kind: 'processor', config: v, logger: silentLogger(), metrics: noopMetrics(), pipeline: 'x', configDir: '.' }, { consume: async (b) => { for (const r of b) out.push(JSON.stringify(r.rrpair)); } });
  for (let i = 0; i < lines.length; i += 100) await proc.consume(lines.slice(i, i + 100).map((l) => newRecord(JSON.parse(l))), {});
  const h = createHash('sha256'); for (const o of out) h.update(o + '\n');
  const pats = {};
  for (const o of out) {
    const tokens = JSON.parse(o).tokens;
    if (Array.isArray(tokens)) for (const e of tokens) pats[e.pattern] = (pats[e.pattern] ?? 0) + 1;
  }
  return { n: out.length, patterns: pats, sha256: h.digest('hex') };
}
const samples = sampleLines(); const cyc = Array.from({ length: 3000 }, (_, i) => samples[i % samples.length]);
const gen = generateJsonl(2000).trim().split('\n');
const edge = edgeCases(6000, 7);
for (const [name, lines] of [['samples x3000', cyc], ['generateJsonl 2000', gen], ['edge cases 6000', edge]])
  for (const cfg of [{}, { mode: 'parameterize' }, { max_values_per_session: 5, max_sessions: 1 }, { detect: { recurring: false, dates: false } }])
    console.log(name.padEnd(20), JSON.stringify(cfg).padEnd(45), JSON.stringify(await run(lines, cfg)));
