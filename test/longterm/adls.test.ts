import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLakeStore } from '../../src/layouts/adls.js';
import { getRecordAt } from '../../src/layouts/get.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { ObjectExistsError } from '../../src/layouts/store.js';
import { ArchiveFetcher } from '../../src/helpers/archive-fetch.js';
import { runCli, startIdentityServer, tmp, type IdentityServer } from '../support/index.js';
import { FakeDataLake } from '../fakes/adls/server.js';
import { makeCerts } from '../otlp/certs.js';
import { canon, corpus, expectSameRecords, rehydrateInto, runOnce, sinks, sources } from './support.js';

/*
 * ADLS Gen2 through its DFS API. Azurite serves Blob, Queue and Table only (no DFS endpoint), so
 * this runs against the strict wire fake in test/fakes/adls (SharedKey signatures checked).
 */

const fake = new FakeDataLake();
const pairs = corpus(2000);
sources.set('dl', pairs);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
const ALL = { start: '2025-03-17T00:00:00Z', end: '2025-03-20T00:00:00Z' };
const recent = corpus(1500, Date.now() - 30 * 3_600_000).filter((p) => p.resource === 'gen');
sources.set('dl-recent', recent);
const RECENT = { start: new Date(Date.now() - 31 * 3_600_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString() };
const ROOT = 'abfss://rrpairs@devstoreaccount1.dfs.core.windows.net';

beforeAll(() => fake.start());
afterAll(() => fake.stop());

function yaml(block: string, source = 'dl', viaConnector = false): string {
  const pipes = viaConnector
    ? `    logs/archive:\n      receivers: [memsource]\n      exporters: [azure_datalake]\n    logs/index:\n      receivers: [azure_datalake]\n      exporters: [memsink]`
    : `    logs/archive:\n      receivers: [memsource]\n      exporters: [azure_datalake]`;
  return `
service:
  data_dir: ${tmp('data')}
  pipelines:
${pipes}
receivers:
  memsource: { name: ${source}, batch: 700 }
${viaConnector ? 'connectors' : 'exporters'}:
  azure_datalake:
    auth: { type: connection_string, connection_string: '${fake.connectionString}' }
    filesystem: rrpairs
    create_filesystem: true
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms }
${block}
${viaConnector ? 'exporters:\n  memsink: { name: indexed }' : ''}
`;
}

describe('azure_datalake exporter → ADLS Gen2 (DFS wire fake) → rehydrate, snapshot, get', () => {
  it('native: hierarchical directories dt=/hour=/service=, files created, appended and flushed; every record back equal, once', async () => {
    fake.pageSize = 7; // listings come in pages: x-ms-continuation is followed
    try {
      await runOnce(yaml('    prefix: native\n    layout: native'));
      expect(fake.directories('rrpairs')).toEqual(expect.arrayContaining(['native', 'native/dt=2025-03-18', 'native/dt=2025-03-18/hour=00', 'native/dt=2025-03-18/hour=00/service=orders']));
      const files = [...fake.files('rrpairs').keys()].filter((k) => !k.includes('_rrpipe'));
      expect(files.length).toBeGreaterThan(30);
      for (const f of files) expect(f).toMatch(/^native\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/service=[^/]+\/[0-9A-HJKMNP-TV-Z]{26}\.jsonl\.gz$/);
      const ops = fake.requests.filter((r) => r.path.endsWith(files[0]!.split('/').pop()!)).map((r) => `${r.method} ${new URLSearchParams(r.query).get('action') ?? new URLSearchParams(r.query).get('resource')}`);
      expect(ops).toEqual(['PUT file', 'PATCH append', 'PATCH flush']);
      expectSameRecords(await rehydrateInto('dl-native', `${ROOT}/native`, { azure: { connection_string: fake.connectionString }, ...ALL }), byUuid);
      const out = join(tmp('snap'), 'raw.jsonl');
      const store = new DataLakeStore({ fileSystem: 'rrpairs', connectionString: fake.connectionString });
      const res = await buildSnapshot({ store, prefix: 'native', layout: 'auto', startMs: Date.parse(ALL.start), endMs: Date.parse(ALL.end), format: 'raw_jsonl', out });
      expect(res.problems).toEqual([]);
      expectSameRecords(readFileSync(out, 'utf8').trim().split('\n').map((l) => ({ rrpair: JSON.parse(l) })), byUuid);
    } finally {
      fake.pageSize = 1000;
    }
  });

  it('otel_azure_blob: the OTel azure_blob names YYYY/MM/DD/logs_… as directories; read back equal', async () => {
    await runOnce(yaml('    prefix: otel\n    layout: otel_azure_blob\n    format: json', 'dl-recent'));
    const files = [...fake.files('rrpairs').keys()].filter((k) => k.startsWith('otel/'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/^otel\/\d{4}\/\d\d\/\d\d\/logs_\d\d_\d\d_\d\d\.json_\d{1,4}$/);
    expect(fake.directories('rrpairs').some((d) => /^otel\/\d{4}\/\d\d$/.test(d))).toBe(true);
    expectSameRecords(await rehydrateInto('dl-otel', `${ROOT}/otel`, { azure: { connection_string: fake.connectionString }, ...RECENT }), new Map(recent.map((p) => [p.uuid!, canon(p)])));
  });

  it('as a connector, hands each record with an abfss:// location that get and the archive fetcher resolve', async () => {
    sinks.set('indexed', { records: [] });
    sources.set('dl-few', pairs.slice(0, 400));
    await runOnce(yaml('    prefix: conn\n    layout: native', 'dl-few', true));
    const got = sinks.get('indexed')!.records;
    expect(got.length).toBe(400);
    const fetcher = new ArchiveFetcher(() => ({ azure: { connection_string: fake.connectionString } }));
    for (const r of got.filter((_, i) => i % 40 === 0)) {
      expect(r.location).toMatch(/^abfss:\/\/rrpairs@devstoreaccount1\.dfs\.core\.windows\.net\/conn\/dt=.+#\d+$/);
      expect(canon(await getRecordAt(r.location!, { azure: { connection_string: fake.connectionString } }))).toBe(canon(r.rrpair));
      expect(canon(await fetcher.fetch(r.location!))).toBe(canon(r.rrpair));
      expect(canon(await fetcher.fetch(r.location!.replace(/^abfss:/, 'abfs:')))).toBe(canon(r.rrpair));
    }
  });

  it('a busy service (503 on flush) and an outage are retried; nothing lost, nothing twice', async () => {
    sources.set('dl-busy', pairs.slice(0, 1400));
    fake.busyFlushes = 3;
    fake.cut = 0;
    fake.down = true;
    setTimeout(() => (fake.down = false), 700);
    await runOnce(yaml('    prefix: busy\n    layout: native', 'dl-busy'));
    expect(fake.busyFlushes).toBe(0);
    expect(fake.cut).toBeGreaterThan(0);
    expectSameRecords(await rehydrateInto('dl-busy-back', `${ROOT}/busy`, { azure: { connection_string: fake.connectionString }, ...ALL }), new Map(pairs.slice(0, 1400).map((p) => [p.uuid!, canon(p)])));
  });

  it('writes a file whole (append in chunks, one flush), refuses to overwrite with ifNoneMatch, and lists by prefix', async () => {
    const store = new DataLakeStore({ fileSystem: 'rrpairs', connectionString: fake.connectionString, chunkSize: 1024 });
    const body = Buffer.from('x'.repeat(5000));
    await store.put('unit/a/b/file.txt', body, { ifNoneMatch: true });
    expect(fake.files('rrpairs').get('unit/a/b/file.txt')).toEqual(body);
    expect(fake.requests.filter((r) => r.path === 'rrpairs/unit/a/b/file.txt' && r.query.includes('append')).length).toBe(5);
    await expect(store.put('unit/a/b/file.txt', body, { ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    await store.put('unit/a/c.txt', Buffer.from('c'));
    const listed: string[] = [];
    for await (const o of store.list('unit/a/b')) listed.push(o.key);
    expect(listed).toEqual(['unit/a/b/file.txt']);
    const none: string[] = [];
    for await (const o of store.list('nothing/here/')) none.push(o.key);
    expect(none).toEqual([]);
    expect(store.uri('unit/a/c.txt')).toBe(`${ROOT}/unit/a/c.txt`);
  });

  it('a request with a wrong account key is refused by the fake (the signature is checked); so is a bearer token it was not given', async () => {
    const bad = new DataLakeStore({ fileSystem: 'rrpairs', connectionString: fake.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('wrong').toString('base64')}`) });
    await expect(bad.put('unit/bad.txt', Buffer.from('x'))).rejects.toMatchObject({ statusCode: 403 });
    const res = await fetch(`${fake.url}/rrpairs?resource=filesystem&recursive=true`, { headers: { authorization: 'Bearer anything', 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2025-01-05' } });
    expect(res.status).toBe(401);
  });
});

describe('azure_datalake with managed identities (identity endpoint token as the bearer, HTTPS fake): connector, query --output raw, rehydrate, snapshot', () => {
  const certs = makeCerts();
  const tls = new FakeDataLake(undefined, undefined, { cert: certs.serverCert, key: certs.serverKey });
  const dir = tmp('rrpipe-adls-mi-');
  const few = pairs.slice(0, 300);
  const want = new Map(few.map((p) => [p.uuid!, canon(p)]));
  let idp: IdentityServer;
  // rrpipe runs as a child that trusts the test CA and gets no key or connection string.
  const env = () => ({ ...idp.env, NODE_EXTRA_CA_CERTS: certs.ca, AZURE_STORAGE_CONNECTION_STRING: '', AZURE_STORAGE_KEY: '' });
  const back = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => ({ rrpair: JSON.parse(l) as { uuid?: string } }));
  const resources = (from: number) => idp.requests.slice(from).map((r) => new URL(r.url, 'http://x').searchParams);

  beforeAll(async () => {
    idp = await startIdentityServer();
    tls.bearer = () => idp.token;
    await tls.start();
    writeFileSync(join(dir, 'in.jsonl'), few.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });

  afterAll(async () => {
    await tls.stop();
    await idp?.stop();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  it('the connector writes with the system-assigned identity; rrpipe query --output raw reads each abfss:// archive_uri with the same identity', async () => {
    const file = join(dir, 'connector.yaml');
    writeFileSync(file, `receivers:\n  file: { include: ['${join(dir, 'in.jsonl')}'], start_at: beginning, follow: false }\nconnectors:\n  azure_datalake:\n    url: ${tls.url}\n    auth: { type: system_managed_identity }\n    filesystem: rrpairs\n    create_filesystem: true\n    prefix: mi\nexporters:\n  embedded: { path: '${join(dir, 'hot.db')}', store_rrpair: false }\nservice:\n  data_dir: ${join(dir, 'conn')}\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs/archive: { receivers: [file], exporters: [azure_datalake] }\n    logs/index: { receivers: [azure_datalake], exporters: [embedded] }\n`);
    const run = await runCli(['run', '--once', '-c', file], env());
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(idp.requests.length).toBeGreaterThan(0);
    for (const q of resources(0)) {
      expect(q.get('resource')).toBe('https://storage.azure.com');
      expect(q.get('client_id')).toBeNull();
    }
    expect(tls.schemes.length).toBeGreaterThan(3);
    expect(new Set(tls.schemes)).toEqual(new Set(['Bearer']));
    expect([...tls.files('rrpairs').keys()].filter((k) => k.startsWith('mi/dt=')).length).toBeGreaterThan(0);

    const asked = idp.requests.length;
    const out = join(dir, 'raw.jsonl');
    const q = await runCli(['query', '-c', file, '--store', 'embedded', '--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z', '--limit', '0', '--output', 'raw', '--out', out], env());
    expect(q.code, q.stderr.slice(-2000)).toBe(0);
    expectSameRecords(back(out), want);
    expect(idp.requests.length).toBeGreaterThan(asked);
  }, 120_000);

  it('rehydrate reads with a user-assigned identity (azure.auth); snapshot with DefaultAzureCredential', async () => {
    const asked = idp.requests.length;
    const file = join(dir, 'rehydrate.yaml');
    writeFileSync(file, `receivers:\n  rehydrate:\n    from: ${ROOT}/mi\n    azure: { endpoint: '${tls.url}', auth: { type: user_managed_identity, client_id: cid-adls } }\n    start: '${ALL.start}'\n    end: '${ALL.end}'\nexporters:\n  file: { path: '${join(dir, 'back.jsonl')}', format: raw_jsonl }\nservice:\n  data_dir: ${join(dir, 're')}\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs: { receivers: [rehydrate], exporters: [file] }\n`);
    const re = await runCli(['run', '--once', '-c', file], env());
    expect(re.code, re.stderr.slice(-2000)).toBe(0);
    expectSameRecords(back(join(dir, 'back.jsonl')), want);
    expect(resources(asked).map((q) => q.get('client_id'))).toContain('cid-adls');

    const snap = await runCli(['snapshot', '--from', `${ROOT}/mi`, '--endpoint', tls.url, '--start', ALL.start, '--end', ALL.end, '--out', join(dir, 'snap.jsonl')], env());
    expect(snap.code, snap.stderr.slice(-2000)).toBe(0);
    expectSameRecords(back(join(dir, 'snap.jsonl')), want);
  }, 120_000);

  it('a token other than the identity endpoint\'s is refused: nothing is read', async () => {
    tls.bearer = () => 'not-the-token';
    try {
      const snap = await runCli(['snapshot', '--from', `${ROOT}/mi`, '--endpoint', tls.url, '--start', ALL.start, '--end', ALL.end, '--out', join(dir, 'none.jsonl')], env());
      expect(snap.code).not.toBe(0);
      expect(snap.stderr).toMatch(/Server failed to authenticate the request/); // the fake's 401, not a failed token fetch
      expect(existsSync(join(dir, 'none.jsonl'))).toBe(false);
    } finally {
      tls.bearer = () => idp.token;
    }
  }, 60_000);
});
