import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { tmpDir } from '../support/index.js';
import { canon } from '../longterm/support.js';
import { FakeAiSearch } from '../fakes/aisearch/server.js';
import { FakeDataLake } from '../fakes/adls/server.js';
import { cliRoundTrip, generatedRecords, patchedConfig, rehydrateInto, sampleRecords } from './support.js';

/*
 * The shipped configs/azure-aisearch.yaml end to end: records archived to ADLS Gen2 (the DFS wire
 * fake) by the azure_datalake connector and indexed in Azure AI Search (the wire fake);
 * `rrpipe query --output raw` fetches each RRPair from ADLS through its abfss:// archive_uri.
 */

const SHIPPED = 'configs/azure-aisearch.yaml';
const N = 20_000;

describe(SHIPPED, () => {
  it('loads, with the AI Search index behind the ADLS archive, and query_api on it', async () => {
    const cfg = await loadConfig([SHIPPED], { registry: await builtinRegistry(), env: { AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AZURE_SEARCH_ENDPOINT: 'https://s.search.windows.net', AZURE_SEARCH_API_KEY: 'k' } });
    expect(cfg.components.exporters.get('azureaisearch')!.config).toMatchObject({ endpoint: 'https://s.search.windows.net', index_name: 'rrpairs', create_index: true, store_rrpair: false, retention: 14 * 86_400_000 });
    expect(cfg.components.connectors.get('azure_datalake')!.config).toMatchObject({ filesystem: 'rrpairs', layout: 'native', create_filesystem: true });
    expect(cfg.components.extensions.get('query_api')!.config.store).toBe('azureaisearch');
  });
});

describe(`${SHIPPED} against the ADLS and AI Search fakes: ${N} generated RRPairs and the samples`, () => {
  const t = tmpDir('rrpipe-aiscli-');
  const adls = new FakeDataLake();
  const search = new FakeAiSearch('cli-admin-key');
  const rrs = [...sampleRecords(), ...generatedRecords(N)].map((r) => r.rrpair);

  beforeAll(async () => {
    await adls.start();
    await search.start();
    writeFileSync(join(t.dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    await search.stop();
    await adls.stop();
    t.cleanup();
  });

  it('run, then query --output raw through abfss:// archive_uri and snapshot --from the store: all equal', async () => {
    // Retention off here: the generated RRPairs are from 2025.
    const env = { AZURE_STORAGE_CONNECTION_STRING: adls.connectionString, AZURE_SEARCH_ENDPOINT: search.endpoint, AZURE_SEARCH_API_KEY: 'cli-admin-key', RRPIPE_HOT_RETENTION: '0s' };
    const cfg = patchedConfig(SHIPPED, t.dir, 'run', join(t.dir, 'in.jsonl'), () => {});
    await cliRoundTrip(cfg, 'azureaisearch', env, t.dir, rrs.map(canon).sort(), 'abfss://rrpairs@devstoreaccount1.dfs.core.windows.net/dt=');
    expect(search.docs('rrpairs')).toHaveLength(rrs.length);
    expect(adls.directories('rrpairs').some((d) => /^dt=2025-06-01\/hour=23\/service=orders$/.test(d))).toBe(true);
  }, 1_800_000);

  it('rehydrate from abfss:// into a second index (with the full RRPair): every record there once, equal', async () => {
    await rehydrateInto(t.dir, 'abfss://rrpairs@devstoreaccount1.dfs.core.windows.net/', `azure: { connection_string: '${adls.connectionString}' }`, 'azureaisearch',
      [`endpoint: ${search.endpoint}`, 'api_key: cli-admin-key', 'index_name: rehydrated', 'create_index: true', 'store_rrpair: true', 'retention: 0s'], {}, rrs.map(canon).sort());
    expect(search.docs('rehydrated')).toHaveLength(rrs.length);
  }, 1_800_000);
});
