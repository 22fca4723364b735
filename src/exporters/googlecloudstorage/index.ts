import { address, bool, bytes, exporterHelperProperties, int, obj, oneOf, str, type Config } from '../../config/fragments.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { COMPRESSIONS, FORMATS } from '../../layouts/format.js';
import { GcsStore } from '../../layouts/gcs.js';
import { layoutDefaults, OTEL_S3_PARTITION } from '../../layouts/layout.js';

export const GCS_STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'] as const;

const schema = obj(
  {
    bucket: obj(
      {
        name: str(undefined, 'Bucket name.', { minLength: 1 }),
        project_id: str(undefined, 'Google Cloud project (default: from the credentials).'),
        file_prefix: str(undefined, 'Object name prefix. otel_googlecloudstorage: objects are <file_prefix>_<uuid> (default logs, as the OTel exporter); other layouts: the key prefix (default none).'),
        region: str(undefined, 'Accepted for OTel configs; rrpipe never creates the bucket, so it is not used.'),
        reuse_if_exists: bool(true, 'Accepted for OTel configs; rrpipe never creates the bucket and always writes to the existing one.'),
        partition: obj({ format: str(OTEL_S3_PARTITION, 'With layout otel_awss3: strftime partition format.') }, { default: {} }),
        storage_class: oneOf(GCS_STORAGE_CLASSES, undefined, 'Storage class of every object (default: the bucket\'s).'),
        kms_key_name: str(undefined, 'Cloud KMS key for customer-managed encryption (CMEK).'),
        endpoint: address(undefined, 'API endpoint, e.g. an emulator (no credentials are sent to a custom endpoint).'),
      },
      { required: ['name'] },
    ),
    format: oneOf(FORMATS, undefined, 'raw_jsonl or otlp_json; default: the layout\'s.'),
    compression: oneOf(COMPRESSIONS, undefined, 'none, gzip or zstd; default: the layout\'s.'),
    layout: oneOf(['otel_googlecloudstorage', 'native', 'otel_awss3', 'fluentbit_s3'], 'otel_googlecloudstorage', 'Key layout: otel_googlecloudstorage (the OTel googlecloudstorage exporter\'s <file_prefix>_<uuid> names), native (rrpipe\'s Hive layout), otel_awss3 or fluentbit_s3.'),
    write_manifest: bool(undefined, 'Write <prefix>/_rrpipe/layout.json once; default: false for otel_googlecloudstorage (OTel writes none), true otherwise.'),
    resumable_threshold: bytes('8MiB', 'Objects larger than this use a resumable upload.'),
    chunk_size: bytes('8MiB', 'Resumable upload chunk size (multiple of 256 KiB).'),
    parallel: int(4, 'Objects uploaded at once per batch.', { minimum: 1 }),
    ...exporterHelperProperties(),
  },
  { required: ['bucket'] },
);

export type GcsConfig = Config<typeof schema>;

export const factories = archiveFactories<GcsConfig>({
  type: 'googlecloudstorage',
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to Google Cloud Storage under the OTel googlecloudstorage exporter\'s names, or in rrpipe\'s native, the OTel awss3 or the Fluent Bit layout.',
  schema,
  validate: (c) => (c.chunk_size % (256 * 1024) !== 0 ? [{ path: ['chunk_size'], message: 'chunk_size must be a multiple of 256 KiB' }] : []),
  build: (s) => {
    const c = s.config;
    const d = layoutDefaults(c.layout);
    return {
      openStore: () =>
        new GcsStore({
          bucket: c.bucket.name,
          projectId: c.bucket.project_id,
          apiEndpoint: c.bucket.endpoint,
          storageClass: c.bucket.storage_class,
          kmsKeyName: c.bucket.kms_key_name,
          resumableThreshold: c.resumable_threshold,
          chunkSize: c.chunk_size,
        }),
      options: {
        spec: { layout: c.layout, prefix: c.bucket.file_prefix ?? (c.layout === 'otel_googlecloudstorage' ? 'logs' : ''), format: c.format ?? d.format, compression: c.compression ?? d.compression, partition_format: c.bucket.partition.format },
        writeManifest: c.write_manifest ?? c.layout !== 'otel_googlecloudstorage',
        parallel: c.parallel,
      },
    };
  },
});
