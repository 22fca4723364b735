import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../../src/exporters/azurecosmosdb/index.js';
import { factory as adxFactory } from '../../src/exporters/azuredataexplorer/index.js';
import { AZURITE_ACCOUNT, FakeKusto, runCli, startAzurite, startCosmos, startIdentityServer, startProcessIdentity, tmpDir, type CosmosServer, type IdentityServer } from '../support/index.js';
import { build, generatedRecords, queryAll, reference, sendAndDrain } from '../shortterm2/support.js';
import { canon } from '../longterm/support.js';
import { makeCerts } from '../otlp/certs.js';

// One identity endpoint for the components that run in this process: @azure/identity (MSAL) keeps
// the managed identity source it found for the process's life.
let idp: IdentityServer;

beforeAll(async () => {
  idp = await startProcessIdentity();
});

afterAll(async () => {
  await idp?.stop();
});

describe('azurecosmosdb with a managed identity (ManagedIdentityCredential through IDENTITY_ENDPOINT)', () => {
  let cosmos: CosmosServer;

  beforeAll(async () => {
    cosmos = await startCosmos();
  });

  afterAll(async () => {
    await cosmos?.stop();
  });

  it('gets a token from the identity endpoint and sends it to Cosmos DB as an AAD authorization', async () => {
    const b = await build(factory, {
      endpoint: cosmos.endpoint, managed_identity_id: 'system', container: 'mi',
      tls: { insecure_skip_verify: true }, sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '30s' },
    });
    try {
      const recs = generatedRecords(20);
      await sendAndDrain(b, [recs]);
      expect(await queryAll(b.component, {})).toEqual(reference(recs));
      // The identity endpoint was asked with its secret header, for Cosmos DB's resource.
      expect(idp.requests.length).toBeGreaterThan(0);
      expect(idp.requests.every((r) => r.headers['x-identity-header'] === idp.env.IDENTITY_HEADER)).toBe(true);
      expect(new URL(idp.requests[0]!.url, 'http://x').searchParams.get('resource')).toMatch(/cosmos|127\.0\.0\.1/);
      // Every request Cosmos DB saw carried that token, in Cosmos DB's AAD form, never a key signature.
      const auths = cosmos.requests.map((r) => decodeURIComponent(String(r.headers.authorization)));
      expect(auths.length).toBeGreaterThan(2);
      for (const a of auths) expect(a).toBe(`type=aad&ver=1.0&sig=${idp.token}`);
    } finally {
      await b.stop();
    }
  }, 60_000);
});

describe('azuredataexplorer with a managed identity: the identity endpoint\'s token reaches Kusto as the bearer', () => {
  const kusto = new FakeKusto();

  beforeAll(async () => {
    await kusto.start();
  });

  afterAll(async () => {
    await kusto.stop();
  });

  for (const managed_identity_id of ['system', 'client-id-of-a-user-identity']) {
    it(`managed_identity_id: ${managed_identity_id}`, async () => {
      const before = { idp: idp.requests.length, kusto: kusto.authorizations.length };
      const b = await build(adxFactory, {
        cluster_uri: kusto.uri, ingest_uri: kusto.uri, ingestion_type: 'managed', managed_identity_id,
        sending_queue: { enabled: false }, retry_on_failure: { initial_interval: '50ms', max_interval: '300ms', max_elapsed_time: '30s' },
      });
      try {
        const recs = generatedRecords(30, { services: [`mi-${managed_identity_id}`] });
        await sendAndDrain(b, [recs]);
        expect(await queryAll(b.component, { service: `mi-${managed_identity_id}` })).toEqual(reference(recs));
        const asked = idp.requests.slice(before.idp);
        expect(asked.length).toBeGreaterThan(0);
        for (const r of asked) {
          expect(r.headers['x-identity-header']).toBe(idp.env.IDENTITY_HEADER);
          const q = new URL(r.url, 'http://x').searchParams;
          expect(q.get('resource')).toMatch(/kusto/);
          expect(q.get('client_id') ?? 'system').toBe(managed_identity_id);
        }
        const auths = kusto.authorizations.slice(before.kusto);
        expect(auths.length).toBeGreaterThan(2); // management commands, ingestion, queries
        for (const a of auths) expect(a).toBe(`Bearer ${idp.token}`);
      } finally {
        await b.stop();
      }
    }, 60_000);
  }
});

describe('azure_blob with managed identities against Azurite (HTTPS, --oauth basic): exporter, snapshot and rehydrate', () => {
  const t = tmpDir('rrpipe-mi-blob-');
  const certs = makeCerts();
  let az: Awaited<ReturnType<typeof startAzurite>>;
  let jwtIdp: IdentityServer;
  let url = '';
  const recs = generatedRecords(500);
  const want = recs.map((r) => canon(r.rrpair)).sort();
  const WINDOW = ['--start', '2025-06-01T00:00:00Z', '--end', '2025-06-03T00:00:00Z']; // the native layout lists an hour at a time
  // rrpipe runs as a child that trusts the test CA; no key or connection string reaches it.
  const env = () => ({ ...jwtIdp.env, NODE_EXTRA_CA_CERTS: certs.ca, AZURE_STORAGE_CONNECTION_STRING: '', AZURE_STORAGE_KEY: '' });

  beforeAll(async () => {
    az = await startAzurite({ tls: { cert: certs.serverCert, key: certs.serverKey }, oauth: true });
    url = `${az.blobUrl}/${AZURITE_ACCOUNT}`;
    jwtIdp = await startIdentityServer({ jwt: true });
    writeFileSync(join(t.dir, 'in.jsonl'), recs.map((r) => JSON.stringify(r.rrpair)).join('\n') + '\n');
    await createContainer(url, 'logs', certs.ca, jwtIdp);
    jwtIdp.requests.length = 0;
  }, 90_000);

  afterAll(async () => {
    await jwtIdp?.stop();
    await az?.stop();
    t.cleanup();
    rmSync(certs.dir, { recursive: true, force: true });
  });

  function config(name: string, body: string): string {
    const file = join(t.dir, `${name}.yaml`);
    writeFileSync(file, `${body}\nservice:\n  data_dir: ${join(t.dir, name)}\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs: { receivers: [${name === 'write' ? 'file' : 'rehydrate'}], exporters: [${name === 'write' ? 'azure_blob' : 'file'}] }\n`);
    return file;
  }

  it('the exporter writes with the system-assigned identity; snapshot reads with DefaultAzureCredential; rehydrate with a user-assigned one', async () => {
    const write = config('write', `receivers:\n  file: { include: ['${join(t.dir, 'in.jsonl')}'], start_at: beginning, follow: false }\nexporters:\n  azure_blob:\n    url: ${url}\n    auth: { type: system_managed_identity }\n    layout: native\n    prefix: mi\n`);
    const run = await runCli(['run', '--once', '-c', write], env());
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(jwtIdp.requests.length).toBeGreaterThan(0);
    for (const r of jwtIdp.requests) expect(new URL(r.url, 'http://x').searchParams.get('resource')).toBe('https://storage.azure.com');

    const snap = await runCli(['snapshot', '--from', `azblob://${AZURITE_ACCOUNT}/logs/mi`, '--endpoint', url, ...WINDOW, '--out', join(t.dir, 'snap.jsonl')], env());
    expect(snap.code, snap.stderr.slice(-2000)).toBe(0);
    expect(lines(join(t.dir, 'snap.jsonl'))).toEqual(want);

    const asked = jwtIdp.requests.length;
    const back = config('rehydrate', `receivers:\n  rehydrate:\n    from: azblob://${AZURITE_ACCOUNT}/logs/mi\n    azure: { endpoint: '${url}', auth: { type: user_managed_identity, client_id: cid-1234 } }\n    start: '2025-06-01T00:00:00Z'\n    end: '2025-06-03T00:00:00Z'\nexporters:\n  file: { path: '${join(t.dir, 'back.jsonl')}', format: raw_jsonl }\n`);
    const re = await runCli(['run', '--once', '-c', back], env());
    expect(re.code, re.stderr.slice(-2000)).toBe(0);
    expect(lines(join(t.dir, 'back.jsonl'))).toEqual(want);
    expect(jwtIdp.requests.slice(asked).map((r) => new URL(r.url, 'http://x').searchParams.get('client_id'))).toContain('cid-1234');
  }, 300_000);

  it('as a connector with a user-assigned identity; rrpipe query --output raw fetches each RRPair through archive_uri with that identity', async () => {
    const file = join(t.dir, 'connector.yaml');
    writeFileSync(file, `receivers:\n  file: { include: ['${join(t.dir, 'in.jsonl')}'], start_at: beginning, follow: false }\nconnectors:\n  azure_blob:\n    url: ${url}\n    auth: { type: user_managed_identity, client_id: cid-conn }\n    prefix: conn\nexporters:\n  embedded: { path: '${join(t.dir, 'hot.db')}', store_rrpair: false }\nservice:\n  data_dir: ${join(t.dir, 'conn')}\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs/archive: { receivers: [file], exporters: [azure_blob] }\n    logs/index: { receivers: [azure_blob], exporters: [embedded] }\n`);
    const run = await runCli(['run', '--once', '-c', file], env());
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const asked = jwtIdp.requests.length;
    const window = ['--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z', '--limit', '0'];
    const docs = await runCli(['query', '-c', file, '--store', 'embedded', ...window, '--output', 'jsonl'], env());
    expect(docs.code, docs.stderr.slice(-2000)).toBe(0);
    const uris = docs.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { archive_uri?: string }).archive_uri ?? '');
    expect(uris).toHaveLength(recs.length);
    expect(uris.every((u) => u.startsWith(`azblob://${AZURITE_ACCOUNT}/logs/conn/`))).toBe(true);
    const out = join(t.dir, 'conn-raw.jsonl');
    const q = await runCli(['query', '-c', file, '--store', 'embedded', ...window, '--output', 'raw', '--out', out], env());
    expect(q.code, q.stderr.slice(-2000)).toBe(0);
    expect(lines(out)).toEqual(want);
    expect(jwtIdp.requests.slice(asked).map((r) => new URL(r.url, 'http://x').searchParams.get('client_id'))).toContain('cid-conn');
  }, 300_000);

  it('without a token from the identity endpoint Azurite refuses: nothing is read anonymously', async () => {
    const snap = await runCli(['snapshot', '--from', `azblob://${AZURITE_ACCOUNT}/logs/mi`, '--endpoint', url, ...WINDOW, '--out', join(t.dir, 'none.jsonl')], { ...env(), IDENTITY_HEADER: 'wrong' });
    expect(snap.code).not.toBe(0);
    expect(snap.stderr).toMatch(/ManagedIdentityCredential|CredentialUnavailable|authenticat/i);
    expect(existsSync(join(t.dir, 'none.jsonl'))).toBe(false);
  }, 120_000);
});

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l))).sort();
}

/** Create a container over HTTPS with a token of the identity endpoint (the test's own request, not rrpipe's). */
async function createContainer(accountUrl: string, name: string, ca: string, idp: IdentityServer): Promise<void> {
  const res = await fetch(`${idp.env.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent('https://storage.azure.com')}`, { headers: { 'x-identity-header': idp.env.IDENTITY_HEADER } });
  const { access_token: jwt } = (await res.json()) as { access_token: string };
  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(`${accountUrl}/${name}?restype=container`, { method: 'PUT', ca: readFileSync(ca), headers: { authorization: `Bearer ${jwt}`, 'x-ms-version': '2021-12-02', 'x-ms-date': new Date().toUTCString(), 'content-length': '0' } }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d)).on('end', () => (r.statusCode === 201 ? resolve() : reject(new Error(`create container: ${r.statusCode} ${body}`))));
    });
    req.on('error', reject).end();
  });
}
