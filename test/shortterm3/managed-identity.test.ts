import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../../src/exporters/azurecosmosdb/index.js';
import { startCosmos, startIdentityServer, type CosmosServer, type IdentityServer } from '../support/index.js';
import { build, generatedRecords, queryAll, reference, sendAndDrain } from '../shortterm2/support.js';

describe('azurecosmosdb with a managed identity (ManagedIdentityCredential through IDENTITY_ENDPOINT)', () => {
  let cosmos: CosmosServer;
  let idp: IdentityServer;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    cosmos = await startCosmos();
    idp = await startIdentityServer();
    for (const [k, v] of Object.entries(idp.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });

  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await idp?.stop();
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
