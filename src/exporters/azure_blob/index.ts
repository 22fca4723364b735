import { address, bool, bytes, exporterHelperProperties, int, obj, oneOf, str, type Config } from '../../config/fragments.js';
import { azureArchiveOptions } from '../internal/archive/exporter.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { AzureBlobStore, type AzureStoreOptions } from '../../layouts/azure.js';
import { COMPRESSIONS } from '../../layouts/format.js';
import { azureStorageAuth, azureStorageAuthSchema } from '../../helpers/azure-credential.js';

export const AZURE_TIERS = ['Hot', 'Cool', 'Cold', 'Archive'] as const;

const schema = obj({
  url: address(undefined, 'Blob service URL, e.g. https://<account>.blob.core.windows.net/.'),
  auth: azureStorageAuthSchema(),
  container: obj({ logs: str('logs', 'Container that receives the records.') }, { default: {} }),
  format: oneOf(['json', 'otlp_json', 'raw_jsonl'], undefined, 'json (OTLP JSON, as the OTel exporter), otlp_json (same) or raw_jsonl; default: the layout\'s.'),
  compression: oneOf(COMPRESSIONS, undefined, 'none, gzip or zstd; default: the layout\'s.'),
  layout: oneOf(['otel_azure_blob', 'native', 'fluentbit_s3'], 'otel_azure_blob', 'Blob name layout: otel_azure_blob (the OTel azure_blob exporter\'s default names, by write time), native (rrpipe\'s Hive layout by event time) or fluentbit_s3.'),
  prefix: str('', 'Blob name prefix under which the layout is written (rrpipe only; OTel has none).'),
  access_tier: oneOf(AZURE_TIERS, undefined, 'Access tier of every blob (default: the account\'s).'),
  encryption_scope: str(undefined, 'Encryption scope for server-side encryption.'),
  write_manifest: bool(undefined, 'Write <prefix>/_rrpipe/layout.json once; default: true for native and fluentbit_s3, false for otel_azure_blob (OTel writes none).'),
  max_single_shot_size: bytes('64MiB', 'Blobs larger than this go up as blocks, committed by one Put Block List.'),
  block_size: bytes('8MiB', 'Block size for block uploads.'),
  parallel: int(4, 'Blobs uploaded at once per batch.', { minimum: 1 }),
  ...exporterHelperProperties(),
});

export type AzureBlobConfig = Config<typeof schema>;

function storeOptions(c: AzureBlobConfig): AzureStoreOptions {
  const base = {
    container: c.container.logs,
    accessTier: c.access_tier,
    encryptionScope: c.encryption_scope,
    maxSingleShotSize: c.max_single_shot_size,
    blockSize: c.block_size,
  };
  return { ...base, ...azureStorageAuth(c.url, c.auth, 'azure_blob') };
}

export const factories = archiveFactories<AzureBlobConfig>({
  type: 'azure_blob',
  aliases: ['azureblob'],
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to Azure Blob Storage under the OTel azure_blob exporter\'s blob names, or in rrpipe\'s native or the Fluent Bit layout.',
  schema,
  build: (s) => {
    const opts = storeOptions(s.config);
    return { openStore: () => new AzureBlobStore(opts), options: azureArchiveOptions(s.config) };
  },
});
