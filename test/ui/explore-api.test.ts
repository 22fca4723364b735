import { brotliCompressSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/service.js';
import { decodeBody, prettyXml } from '../../src/extensions/query_api/ui/decode.js';
import { regexAsGlobs, snapshotCommand } from '../../src/extensions/query_api/ui/export.js';
import { tmpDir, waitFor } from '../support/index.js';
import { genRRPairs, reference, serveEmbedded } from '../shortterm/support.js';

const NOW = Date.now();
const H = 3_600_000;
const TOKEN = 'explorer-test-token';

describe('the explorer endpoints of query_api', () => {
  const t = tmpDir();
  const rrs = genRRPairs(600, NOW, 2 * H, 7);
  let service: Service;
  let base = '';
  const get = (path: string, auth = true) => fetch(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} });
  const json = async <T,>(path: string): Promise<T> => {
    const r = await get(path);
    expect(r.status, await r.clone().text()).toBe(200);
    return (await r.json()) as T;
  };
  const W = `start=${new Date(NOW - 3 * H).toISOString()}&end=${new Date(NOW + 1000).toISOString()}`;

  beforeAll(async () => {
    let port: number;
    ({ service, port } = await serveEmbedded(t.dir, rrs, { embedded: { store_rrpair: true }, queryApi: { bearer_token: TOKEN, export_limit: 100 } }));
    base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await json<{ total: number }>(`/api/v1/explore/histogram?${W}`)).total === rrs.length, { what: 'all records stored' });
  });
  afterAll(async () => {
    await service.shutdown();
    t.cleanup();
  });

  it('serves the page without a token (it holds no data), with a CSP that allows nothing from elsewhere', async () => {
    const page = await get('/ui', false);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('/ui/app.js');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await get('/ui/app.js', false);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(await js.text()).not.toMatch(/src=["']https?:\/\//);
    for (const p of ['/ui/../package.json', '/ui/%2e%2e%2fpackage.json', '/ui/.hidden', '/ui/nope.js']) expect((await get(p, false)).status, p).toBe(404);
  });

  it('every endpoint that reads the store needs the bearer token', async () => {
    for (const p of ['histogram', 'servicemap', 'table', 'command', 'export', 'rrpair/x']) {
      const r = await get(`/api/v1/explore/${p}?${W}`, false);
      expect(r.status, p).toBe(401);
    }
  });

  it('the scheme name is case-insensitive (RFC 7235), the token is not', async () => {
    const as = (authorization: string) => fetch(`${base}/api/v1/explore/histogram?${W}`, { headers: { authorization } });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) expect((await as(`${scheme} ${TOKEN}`)).status, scheme).toBe(200);
    for (const bad of [`Bearer ${TOKEN.toUpperCase()}x`, `Basic ${TOKEN}`, `Bearer${TOKEN}`, TOKEN, `Bearer  ${TOKEN}`]) expect((await as(bad)).status, bad).toBe(401);
  });

  it('refuses bad parameters and regexes that cannot run in linear time with a 400', async () => {
    for (const q of ['bogus=1', 'buckets=abc', 'buckets=0', 'limit=0', 'status=(a)%5C1', 'start=yesterday', 'start=2021-02-30']) {
      const r = await get(`/api/v1/explore/histogram?${q}`);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { error: string }).error.length).toBeGreaterThan(5);
    }
    expect((await get(`/api/v1/explore/table?${W}&sort=password`)).status).toBe(400);
    expect((await get(`/api/v1/explore/export?${W}&format=zip`)).status).toBe(400);
  });

  it('the histogram counts every match in its bucket, errors apart', async () => {
    const start = NOW - 2 * H - 1000;
    const end = NOW + 1000;
    const h = await json<{ counts: number[]; errors: number[]; step_ms: number; total: number; native: boolean }>(`/api/v1/explore/histogram?start=${start}&end=${end}&buckets=24&service=orders`);
    expect(h.native).toBe(true); // counted by the embedded store (GROUP BY), not by a scan
    const want = new Array(24).fill(0);
    const wantErr = new Array(24).fill(0);
    for (const r of rrs) {
      if (r.service !== 'orders') continue;
      const i = Math.min(23, Math.floor((Date.parse(r.ts!) - start) / h.step_ms));
      want[i]++;
      if (Number(r.status) >= 500) wantErr[i]++;
    }
    expect(h.counts).toEqual(want);
    expect(h.errors).toEqual(wantErr);
    expect(h.total).toBe(reference(rrs, { service: 'orders' }).length);
  });

  it('pages a sort by any column without overlap: the pages joined are the whole sorted selection', async () => {
    const sel = rrs.filter((r) => r.direction === 'IN');
    const got: string[] = [];
    let total = 0;
    for (let offset = 0; offset < sel.length; offset += 70) {
      const p = await json<{ rows: { id: string; duration: number }[]; total: number }>(`/api/v1/explore/table?${W}&direction=IN&sort=duration&order=desc&limit=70&offset=${offset}`);
      got.push(...p.rows.map((r) => r.id));
      total = p.total;
    }
    expect(total).toBe(sel.length);
    const byId = new Map(rrs.map((r) => [r.uuid!, r]));
    const ids = reference(rrs, { direction: 'IN' });
    const order = new Map(ids.map((id, i) => [id, i]));
    const want = [...ids].sort((a, b) => byId.get(b)!.duration! - byId.get(a)!.duration! || order.get(a)! - order.get(b)!);
    expect(got).toEqual(want);
  });

  it('exports a proxymock snapshot as .tar.gz: one file per record under its host, and the metadata', async () => {
    const r = await get(`/api/v1/explore/export?${W}&service=payments&status=%5E5&format=proxymock`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/gzip');
    const files = new Map<string, string>();
    const ex = extract();
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => { files.set(h.name, Buffer.concat(chunks).toString('utf8')); next(); });
    });
    const done = new Promise<void>((ok) => ex.on('finish', () => ok()));
    Readable.from([gunzipSync(Buffer.from(await r.arrayBuffer()))]).pipe(ex);
    await done;
    const want = rrs.filter((x) => x.service === 'payments' && x.status!.startsWith('5'));
    const meta = JSON.parse(files.get('.metadata/snapshot.json')!) as { records: number; hosts: string[] };
    expect(meta.records).toBe(want.length);
    expect(meta.hosts).toEqual(['payments.svc']);
    const records = [...files].filter(([k]) => k.endsWith('.json') && !k.startsWith('.metadata'));
    expect(records.length).toBe(want.length);
    for (const [name, body] of records) {
      expect(name).toMatch(/^snapshot-[0-9a-f-]+\/payments\.svc\/[^/]+\.json$/);
      const rr = JSON.parse(body) as { uuid: string };
      expect(rr).toEqual(want.find((x) => x.uuid === rr.uuid));
    }
  });

  it('a selection over export_limit is refused with the rrpipe snapshot command to use instead', async () => {
    const r = await get(`/api/v1/explore/export?${W}`);
    expect(r.status).toBe(413);
    const body = (await r.json()) as { error: string; command: string };
    expect(body.error).toContain('export_limit');
    expect(body.command).toMatch(/^rrpipe snapshot --from/);
  });

  it('opens one RRPair by id and ts, from the store when there is no archive', async () => {
    const rr = rrs[42]!;
    const ts = (await json<{ rows: { id: string; ts: string }[] }>(`/api/v1/explore/table?${W}&limit=1000`)).rows.find((d) => d.id === rr.uuid)!.ts;
    const got = await json<{ from: string; view: { response: { body: { kind: string; text: string } } }; rrpair: unknown }>(`/api/v1/explore/rrpair/${encodeURIComponent(rr.uuid!)}?ts=${ts}`);
    expect(got.from).toBe('store');
    expect(got.rrpair).toEqual(rr);
    expect(got.view.response.body).toMatchObject({ kind: 'json', text: JSON.stringify(JSON.parse(Buffer.from(rr.http!.res!.bodyBase64!, 'base64').toString()), null, 2) });
    expect((await get(`/api/v1/explore/rrpair/nope?ts=${ts}`)).status).toBe(404);
  });
});

describe('body decoding for the Read screen', () => {
  const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
  it('undoes gzip, deflate and br, and pretty-prints JSON, forms and XML', () => {
    const json = '{"a":[1,{"b":"REDACTED-EMAIL-0123456789abcdef0123"}]}';
    for (const [enc, z] of [['gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
      const v = decodeBody(b64(z(Buffer.from(json))), { 'Content-Encoding': [enc], 'Content-Type': ['application/json'] });
      expect(v.decoded).toEqual(['base64', enc]);
      expect(v.kind).toBe('json');
      expect(v.text).toBe(JSON.stringify(JSON.parse(json), null, 2));
      expect(v.redactions).toEqual(['REDACTED-EMAIL-0123456789abcdef0123']);
    }
    const form = decodeBody(b64('name=J%C3%B6rg&x=1+2'), { 'content-type': ['application/x-www-form-urlencoded'] });
    expect(form).toMatchObject({ kind: 'form', text: 'name = Jörg\nx = 1 2' });
    expect(prettyXml('<?xml version="1.0"?><a><b>x</b><c/><d><e>y</e></d></a>')).toBe('<?xml version="1.0"?>\n<a>\n  <b>x</b>\n  <c/>\n  <d>\n    <e>y</e>\n  </d>\n</a>');
    expect(decodeBody(b64('<a><b>1</b></a>'), { 'Content-Type': ['text/xml'] }).kind).toBe('xml');
  });

  it('shows binary as a hex dump and says when a body cannot be inflated', () => {
    const bin = decodeBody(b64(Buffer.from([0, 1, 2, 0x41, 0xff])), {});
    expect(bin).toMatchObject({ kind: 'binary', size: 5, text: `00000000  ${'00 01 02 41 ff'.padEnd(47)}  ...A.` });
    const bad = decodeBody(b64(Buffer.from([0x1f, 0x8b, 1, 2, 3])), { 'Content-Encoding': ['gzip'] });
    expect(bad.error).toMatch(/could not decode gzip/);
  });

  it('writes query regexes as rrpipe snapshot globs when they have a glob form', () => {
    expect(regexAsGlobs('^5')).toEqual(['5*']);
    expect(regexAsGlobs('^/api/orders$')).toEqual(['/api/orders']);
    expect(regexAsGlobs('GET|POST')).toEqual(['*GET*', '*POST*']);
    expect(regexAsGlobs('^(GET|POST)$')).toEqual(['GET', 'POST']);
    expect(regexAsGlobs('^5\\d\\d$')).toBeUndefined();
    const c = snapshotCommand({ start: new Date(0), end: new Date(1000), service: 'a b', status: '^5\\d' }, 'proxymock', 's3://bucket/rr');
    expect(c.command).toBe("rrpipe snapshot --from s3://bucket/rr --start 1970-01-01T00:00:00.000Z --end 1970-01-01T00:00:00.999Z --service 'a b' --format proxymock --out snapshot/");
    expect(c.exact).toBe(false);
    expect(c.notes[0]).toContain('status');
    const p = snapshotCommand({ start: new Date(0), end: new Date(1000), protocol: 'grpc' }, 'raw_jsonl', '/arch');
    expect(p.command).toBe('rrpipe snapshot --from /arch --start 1970-01-01T00:00:00.000Z --end 1970-01-01T00:00:00.999Z --l7protocol grpc --format raw_jsonl --out snapshot.raw.jsonl');
    expect(p.exact).toBe(true);
  });
});
