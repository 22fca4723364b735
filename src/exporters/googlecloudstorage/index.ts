import { bool, bytes, exporterHelperProperties, int, obj, oneOf, str } from '../../config/fragments.js';
import type { ExporterHelperConfig } from '../../helpers/exporter.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { COMPRESSIONS, FORMATS, type Compression, type Format } from '../../layouts/format.js';
import { GcsStore } from '../../layouts/gcs.js';
import { layoutDefaults, OTEL_S3_PARTITION, type LayoutName } from '../../layouts/layout.js';

export const GCS_STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'] as const;

export interface GcsConfig extends ExporterHelperConfig {
  bucket: {
    name: string;
    project_id?: string;
    file_prefix: string;
    partition: { format: string };
    storage_class?: string;
    kms_key_name?: string;
    endpoint?: string;
  };
  format?: Format;
  compression?: Compression;
  layout: Exclude<LayoutName, 'otel_azure_blob'>;
  write_manifest: boolean;
  resumable_threshold: number;
  chunk_size: number;
  parallel: number;
}

const schema = obj(
  {
    bucket: obj(
      {
        name: str(undefined, 'Bucket name.', { minLength: 1 }),
        project_id: str(undefined, 'Google Cloud project (default: from the credentials).'),
        file_prefix: str('', 'Object name prefix under which the layout is written.'),
        partition: obj({ format: str(OTEL_S3_PARTITION, 'With layout otel_awss3: strftime partition format.') }),
        storage_class: oneOf(GCS_STORAGE_CLASSES, undefined, 'Storage class of every object (default: the bucket\'s).'),
        kms_key_name: str(undefined, 'Cloud KMS key for customer-managed encryption (CMEK).'),
        endpoint: str(undefined, 'API endpoint, e.g. an emulator (no credentials are sent to a custom endpoint).'),
      },
      { required: ['name'] },
    ),
    format: oneOf(FORMATS, undefined, 'raw_jsonl or otlp_json; default: the layout\'s.'),
    compression: oneOf(COMPRESSIONS, undefined, 'none, gzip or zstd; default: the layout\'s.'),
    layout: oneOf(['native', 'otel_awss3', 'fluentbit_s3'], 'native', 'Key layout.'),
    write_manifest: bool(true, 'Write <prefix>/_rrpipe/layout.json once.'),
    resumable_threshold: bytes('8MiB', 'Objects larger than this use a resumable upload.'),
    chunk_size: bytes('8MiB', 'Resumable upload chunk size (multiple of 256 KiB).'),
    parallel: int(4, 'Objects uploaded at once per batch.', { minimum: 1 }),
    ...exporterHelperProperties(),
  },
  { required: ['bucket'] },
);

export const factories = archiveFactories<GcsConfig>({
  type: 'googlecloudstorage',
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to Google Cloud Storage in the native, OTel-style or Fluent Bit layout.',
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
        spec: { layout: c.layout, prefix: c.bucket.file_prefix, format: c.format ?? d.format, compression: c.compression ?? d.compression, partition_format: c.bucket.partition.format },
        writeManifest: c.write_manifest,
        parallel: c.parallel,
      },
    };
  },
});
