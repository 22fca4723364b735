import { address, bool, bytes, exporterHelperProperties, int, obj, oneOf, str, type Config } from '../../config/fragments.js';
import { azureArchiveOptions } from '../internal/archive/exporter.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { DataLakeStore, type DataLakeStoreOptions } from '../../layouts/adls.js';
import { COMPRESSIONS } from '../../layouts/format.js';
import { azureStorageAuth, azureStorageAuthSchema } from '../../helpers/azure-credential.js';

const schema = obj({
  url: address(undefined, 'DFS endpoint URL, e.g. https://<account>.dfs.core.windows.net/.'),
  auth: azureStorageAuthSchema(),
  filesystem: str('rrpairs', 'Filesystem (container) that receives the records.', { minLength: 3, maxLength: 63 }),
  create_filesystem: bool(false, 'Create the filesystem on the first write when it is missing.'),
  format: oneOf(['json', 'otlp_json', 'raw_jsonl'], undefined, 'json (OTLP JSON), otlp_json (same) or raw_jsonl; default: the layout\'s.'),
  compression: oneOf(COMPRESSIONS, undefined, 'none, gzip or zstd; default: the layout\'s.'),
  layout: oneOf(['native', 'otel_azure_blob', 'fluentbit_s3'], 'native', 'Path layout: native (rrpipe\'s Hive directories by event time, dt=/hour=/service=, as Spark and Synapse read them), otel_azure_blob (the OTel azure_blob exporter\'s YYYY/MM/DD/ names) or fluentbit_s3.'),
  prefix: str('', 'Directory under which the layout is written.'),
  write_manifest: bool(undefined, 'Write <prefix>/_rrpipe/layout.json once; default: true for native and fluentbit_s3, false for otel_azure_blob.'),
  chunk_size: bytes('8MiB', 'Files larger than this are appended in chunks of this size, then committed by one flush.'),
  parallel: int(4, 'Files uploaded at once per batch.', { minimum: 1 }),
  ...exporterHelperProperties(),
});

export type AzureDataLakeConfig = Config<typeof schema>;

function storeOptions(c: AzureDataLakeConfig): DataLakeStoreOptions {
  const base = { fileSystem: c.filesystem, chunkSize: c.chunk_size, createFileSystem: c.create_filesystem };
  return { ...base, ...azureStorageAuth(c.url, c.auth, 'azure_datalake') };
}

export const factories = archiveFactories<AzureDataLakeConfig>({
  type: 'azure_datalake',
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to Azure Data Lake Storage Gen2 through its DFS API, as real directories (native Hive layout by default, or the OTel azure_blob names); locations are abfss:// URIs.',
  schema,
  build: (s) => {
    const opts = storeOptions(s.config);
    return { openStore: () => new DataLakeStore(opts), options: azureArchiveOptions(s.config) };
  },
});
