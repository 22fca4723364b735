import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { builtinRegistry } from '../../src/components.js';

const CONFIGS = resolve(__dirname, '../../configs');

/** What an operator sets for each shipped config (the secrets and endpoints each one asks for). */
const ENV = {
  RRPIPE_ARCHIVE_BUCKET: 'archive-bucket',
  OPENSEARCH_ENDPOINT: 'https://search.example:443',
  AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  GOOGLE_CLOUD_PROJECT: 'project',
  ADX_CLUSTER_URI: 'https://cluster.westeurope.kusto.windows.net',
  RRPIPE_REDACTION_SECRET: 'secret',
  OTLP_TOKEN: 'token',
  ES_PASSWORD: 'password',
  OTLP_LOGS_ENDPOINT: 'https://otlp.example/v1/logs',
  ES_ENDPOINT: 'http://elasticsearch:9200',
  S3_BUCKET: 'rrpair-archive',
  GCS_BUCKET: 'rrpair-archive',
  AZURE_BLOB_URL: 'https://account.blob.core.windows.net/',
  AZURE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  AZURE_SEARCH_ENDPOINT: 'https://search.example.search.windows.net',
  AZURE_SEARCH_API_KEY: 'admin-key',
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
}

describe('every shipped config is a complete, valid pipeline', () => {
  for (const f of files(CONFIGS)) {
    it(f.slice(CONFIGS.length + 1), async () => {
      const cfg = await loadConfig([f], { registry: await builtinRegistry(), env: ENV });
      expect(cfg.pipelines.size).toBeGreaterThan(0);
      expect(cfg.warnings.filter((w) => /no pipeline uses it/.test(w))).toEqual([]);
    });
  }

  it('each cloud config archives first, then indexes what was archived', async () => {
    const expect_ = { 'aws.yaml': ['awss3', 'opensearch/hot'], 'gcp.yaml': ['googlecloudstorage', 'bigtable'], 'azure.yaml': ['azure_blob', 'azuredataexplorer'], 'default.yaml': ['local_archive', 'embedded'], 'daemonset.yaml': ['awss3', 'embedded'] } as const;
    for (const [file, [archive, hot]] of Object.entries(expect_)) {
      const cfg = await loadConfig([join(CONFIGS, file)], { registry: await builtinRegistry(), env: ENV });
      expect(cfg.components.connectors.has(archive), `${file}: ${archive} connector`).toBe(true);
      const index = [...cfg.pipelines.values()].find((p) => p.receivers.includes(archive));
      expect(index?.exporters, file).toEqual([hot]);
      expect(index?.processors, file).toContain('indexing');
    }
  });
});
