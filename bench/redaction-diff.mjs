// Differential fuzz of two builds' Redactor: random configs × generated RRPairs (credentials in
// headers, cookies, URLs, JSON/gzip/form/multipart/XML/text bodies, token lists, the sweep;
// broken gzip, lying gzip trailers, odd header-name cases), each record redacted by both; prints
// how many outputs (record, findings, replaced bodies, redactText) differ. Not part of `npm run bench`.
// `node bench/redaction-diff.mjs <root A> <root B> [seed] [records per config] [configs]`
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';

const [rootA, rootB] = [resolve(process.argv[2]), resolve(process.argv[3])];
let seed = Number(process.argv[4] ?? 1);
const N = Number(process.argv[5] ?? 2000);
const CONFIGS = Number(process.argv[6] ?? 8);
const load = async (root) => ({
  Redactor: (await import(join(root, 'dist/processors/redaction/redactor.js'))).Redactor,
  factory: (await import(join(root, 'dist/processors/redaction/index.js'))).factory,
  validate: (await import(join(root, 'dist/config/validate-schema.js'))).validateAgainst,
});
const A = await load(rootA);
const B = await load(rootB);

const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const int = (n) => Math.floor(rnd() * n);
const pick = (a) => a[int(a.length)];
const SECRETS = ['4111 1111 1111 1111', '4111-1111-1111-1111', '5500005555555559', '123-45-6789', 'jane.doe@example.com', 'a@b.co', 'Bearer abcdefghijklmnop',
  'Basic dXNlcjpwYXNzd29yZA==', 'token abcdef123456', 'AKIAIOSFODNN7EXAMPLE', '10.1.2.3', '192.168.0.1', '::1', 'fe80::1ff:fe23:4567:890a', '+14155552671',
  'password=hunter2hunter2', 'api_key: "s3cr3tvalue"', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc', '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----',
  'plain words', 'v1.2.3.4', '2024-01-02T03:04:05Z', 'REDACTED-EMAIL-0123456789abcdef0123', 'gpt-4o-mini', '127.0.0.1', 'x', 'short', 'sixsix'];
const KEYS = ['a', 'id', 'token', 'access_token', 'email', 'note', 'password', 'Authorization', 'X-Api-Key', 'model', 'user', 'session_id', 'max_tokens', 'token_type', 'cookie', 'secret'];
const filler = () => rnd() < 0.4 ? '' : pick(['', ' x'.repeat(int(40)), ' lorem ipsum', '\u2003', '%20', '&b=2', '"', "'", '\\n']);
// a record's strings often repeat one of its earlier strings (a credential seen twice is scrubbed everywhere)
let seen = [];
const str = () => {
  if (seen.length && rnd() < 0.15) return pick(seen);
  const s = (rnd() < 0.6 ? pick(SECRETS) : '') + filler() + (rnd() < 0.3 ? pick(SECRETS) : '');
  seen.push(s);
  return s;
};
const b64 = (s) => Buffer.from(s).toString(rnd() < 0.2 ? 'base64url' : 'base64');
const jsonValue = (d) => {
  const r = rnd();
  if (d > 3 || r < 0.4) return rnd() < 0.15 ? pick([4111111111111111, 12, 1.5, null, true]) : rnd() < 0.1 ? b64(str()) : rnd() < 0.05 ? JSON.stringify({ password: str() }) : str();
  if (r < 0.6) return Array.from({ length: int(4) }, () => jsonValue(d + 1));
  return Object.fromEntries(Array.from({ length: 1 + int(4) }, () => [pick(KEYS) + (rnd() < 0.2 ? String(int(3)) : ''), jsonValue(d + 1)]));
};
const text = () => {
  switch (int(7)) {
    case 0: return JSON.stringify(jsonValue(0), null, pick([0, 2, '\t'])) + (rnd() < 0.3 ? '\n' : '');
    case 1: return Array.from({ length: 1 + int(3) }, () => JSON.stringify(jsonValue(1))).join('\n');
    case 2: return Array.from({ length: 1 + int(3) }, () => `${pick(KEYS)}=${encodeURIComponent(str())}`).join('&');
    case 3: return `<a><${pick(KEYS)}>${str()}</${pick(KEYS)}></a>`;
    case 4: return `--XB\r\nContent-Disposition: form-data; name="${pick(KEYS)}"\r\nContent-Type: ${pick(['application/json', 'text/plain', 'application/octet-stream'])}\r\n\r\n${rnd() < 0.5 ? JSON.stringify(jsonValue(1)) : str()}\r\n--XB--\r\n`;
    case 5: return str();
    default: return '{"broken": ' + str();
  }
};
const CTS = ['application/json', 'application/x-ndjson', 'application/x-www-form-urlencoded', 'text/xml', 'multipart/form-data; boundary=XB', 'text/plain', undefined];
const body = () => {
  const t = Buffer.from(text());
  const g = gzipSync(t);
  switch (int(12)) {
    case 0: return Buffer.concat([rnd() < 0.5 ? g : gzipSync(Buffer.concat([t, Buffer.alloc(int(40000), ' ')])), gzipSync(text())]);
    case 1: return Buffer.concat([g, Buffer.alloc(1 + int(8))]);
    case 2: { const b = Buffer.from(g); b[10 + int(b.length - 10)] ^= 1 << int(8); return b; }
    case 3: return g.subarray(0, int(g.length));
    case 4: { // a lying trailer
      const b = rnd() < 0.5 ? Buffer.from(g) : gzipSync(Buffer.concat([t, Buffer.alloc(int(40000), ' ')]));
      b.writeUInt32LE(int(4) === 0 ? 0 : int(4) === 0 ? int(70000) : int(400), b.length - 4);
      return b;
    }
    case 5: return Buffer.concat([g, Buffer.from(pick(SECRETS))]);
    case 6: return gzipSync(Buffer.concat([t, Buffer.alloc(int(40000), ' ')]));
    case 7: case 8: return t;
    default: return g;
  }
};
const HEADER_NAMES = ['Content-Type', 'Cookie', 'cookie', 'COOKIE', 'Set-Cookie', 'set-cookie', 'Coo\u212Aie', 'Set-Coo\u212Aie', 'cook\u0130e', 'Cookies', 'X-Token', 'Authorization', 'Host', 'User-Agent'];
const headers = (ct) => {
  const h = {};
  for (let i = int(5); i > 0; i--) {
    const name = pick(HEADER_NAMES);
    h[name] = name.toLowerCase().includes('coo') ? [`sid=${str()}; ${pick(KEYS)}=${str()}; Path=/`] : rnd() < 0.1 ? str() : [str(), ...(rnd() < 0.2 ? [str()] : [])];
  }
  if (ct && rnd() < 0.9) h[pick(['Content-Type', 'content-type'])] = [ct];
  if (rnd() < 0.5) h['Content-Length'] = ['5'];
  if (rnd() < 0.1) h['Content-Encoding'] = [pick(['gzip', 'deflate', 'br'])];
  return h;
};
const ORIGINS = ['', '', 'https://h.io', 'HTTPS://jane@example.com:8080', '\u017Ftp://x', 'K\u212A://y', '1ab://c', 'a+b.c-d://10.1.2.3'];
const record = () => {
  seen = [];
  const rr = { msgType: 'rrpair', uuid: String(int(1e9)), http: { req: { url: `${pick(ORIGINS)}/u/${encodeURIComponent(str())}/x?${pick(KEYS)}=${encodeURIComponent(str())}`, headers: headers(pick(CTS)) }, res: { headers: headers(pick(CTS)) } } };
  if (rnd() < 0.6) rr.http.req.bodyBase64 = body().toString('base64');
  if (rnd() < 0.95) rr.http.res.bodyBase64 = rnd() < 0.02 ? 'not base64!' : body().toString('base64');
  if (rnd() < 0.3) rr.http.req.queryParams = { [pick(KEYS)]: [str()] };
  if (rnd() < 0.2) rr.location = `https://h/${str()}`;
  if (rnd() < 0.5) rr.tokenList = { [`UNRECOGNIZED:${str()}`]: { tokens: [{ token: { location: pick(['http.req.headers.Authorization.0', 'http.req.headers.Cookie[0]', 'http.res.body.json.$.password', 'http.req.url.path']), replacementValue: rnd() < 0.5 ? b64(str()) : str() } }] } };
  if (rnd() < 0.6) rr.signature = { [pick(KEYS)]: b64(str()), [str()]: str(), n: [str(), { [pick(KEYS)]: [str(), b64(JSON.stringify(jsonValue(1)))] }] };
  if (rnd() < 0.4) rr.tags = Array.from({ length: int(4) }, () => (rnd() < 0.5 ? str() : b64(str())));
  if (rnd() < 0.1) rr.grpc = jsonValue(1);
  return rr;
};
const config = () => {
  const c = { secret: pick(['s', 'bench']) };
  if (rnd() < 0.3) c.action = pick(['mask', 'hash', 'drop']);
  if (rnd() < 0.2) c.keep_auth_scheme = false;
  if (rnd() < 0.15) c.sensitive_keys = false;
  if (rnd() < 0.3) c.detectors = Object.fromEntries(['email', 'ip', 'phone', 'credit_card', 'jwt', 'bearer'].filter(() => rnd() < 0.4).map((d) => [d, false]));
  if (rnd() < 0.3) c.max_body_size = pick(['300B', '2KiB', '20KiB']);
  if (rnd() < 0.2) c.oversize_body = 'drop';
  if (rnd() < 0.3) c.rules = [pick([{ key: '^note$' }, { path: '$.id', action: 'drop' }, { value: 'gpt-[0-9a-z.-]+', category: 'MODEL' }, { path: 'http.req.headers.Cookie' }])];
  if (rnd() < 0.2) c.keys = ['^user$'];
  if (rnd() < 0.2) c.allow = { keys: pick([['^id$'], ['^token$']]), values: pick([['127\\.0\\.0\\.1'], ['short']]) };
  return c;
};
const redactor = (m, raw) => {
  const v = structuredClone(raw);
  const problems = m.validate(m.factory.schema, v);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return new m.Redactor(v);
};
const run = (r, rr, line) => {
  let out;
  try {
    const res = r.redact(rr);
    out = JSON.stringify([rr, res]);
  } catch (err) {
    out = `threw ${err}`;
  }
  return out + JSON.stringify(r.redactText(line));
};

let diffs = 0;
let first;
for (let k = 0; k < CONFIGS; k++) {
  const c = config();
  const ra = redactor(A, c), rb = redactor(B, c);
  for (let i = 0; i < N; i++) {
    const rr = record();
    const line = JSON.stringify(rr).slice(0, 2000);
    const a = run(ra, structuredClone(rr), line), b = run(rb, structuredClone(rr), line);
    if (a !== b) {
      diffs++;
      first ??= { config: c, record: rr, a: a.slice(0, 400), b: b.slice(0, 400) };
    }
  }
}
console.log(`seed ${process.argv[4] ?? 1}: ${CONFIGS} configs × ${N} records, differences ${diffs}`);
if (first) console.log(JSON.stringify(first).slice(0, 3000));
