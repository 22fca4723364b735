import { address, bool, bytes, exporterHelperProperties, int, obj, oneOf, str, type Config } from '../../config/fragments.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { COMPRESSIONS, type Format } from '../../layouts/format.js';
import { layoutDefaults, OTEL_S3_PARTITION } from '../../layouts/layout.js';
import { S3Store } from '../../layouts/s3.js';

export const S3_STORAGE_CLASSES = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE', 'REDUCED_REDUNDANCY'] as const;

const schema = obj(
  {
    s3uploader: obj(
      {
        region: str('us-east-1', 'AWS region.'),
        s3_bucket: str(undefined, 'Bucket name.', { minLength: 1 }),
        s3_prefix: str('', 'Key prefix (root directory inside the bucket), as the OTel awss3 exporter.'),
        s3_partition_format: str(OTEL_S3_PARTITION, 'With layout otel_awss3: the strftime partition format, applied to the write time (as the OTel awss3 exporter).'),
        file_prefix: str('', 'With layout otel_awss3: prepended to the object name logs_<id>.json (as the OTel awss3 exporter).'),
        endpoint: address(undefined, 'Custom endpoint (MinIO, LocalStack, s3rver).'),
        s3_force_path_style: bool(false, 'Path-style addressing (http://endpoint/bucket/key).'),
        storage_class: oneOf(S3_STORAGE_CLASSES, 'STANDARD', 'S3 storage class of every object.'),
        compression: oneOf(COMPRESSIONS, undefined, 'none, gzip or zstd; default: the layout\'s (none for otel_awss3, as OTel; gzip for native and fluentbit_s3).'),
        server_side_encryption: oneOf(['AES256', 'aws:kms', 'aws:kms:dsse'], undefined, 'Server-side encryption (SSE-S3 or SSE-KMS).'),
        kms_key_id: str(undefined, 'KMS key id or ARN with aws:kms.'),
        multipart_threshold: bytes('16MiB', 'Objects larger than this use a multipart upload (completed whole or aborted).'),
        part_size: bytes('8MiB', 'Multipart part size (at least 5 MiB).'),
      },
      { required: ['s3_bucket'] },
    ),
    marshaler: oneOf(['otlp_json', 'raw_jsonl'], undefined, 'Object format; default: the layout\'s (otlp_json for otel_awss3, as OTel; raw_jsonl for native).'),
    layout: oneOf(['otel_awss3', 'native', 'fluentbit_s3'], 'otel_awss3', 'Key layout: otel_awss3 (the OTel awss3 exporter\'s keys, by write time), native (rrpipe\'s Hive dt/hour/service by event time) or fluentbit_s3.'),
    write_manifest: bool(undefined, 'Write <prefix>/_rrpipe/layout.json once, so readers know the layout; default: true for native and fluentbit_s3, false for otel_awss3 (OTel writes none).'),
    parallel: int(4, 'Objects uploaded at once per batch.', { minimum: 1 }),
    ...exporterHelperProperties(),
  },
  { required: ['s3uploader'] },
);

export type AwsS3Config = Config<typeof schema>;

export const factories = archiveFactories<AwsS3Config>({
  type: 'awss3',
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to Amazon S3 (or any S3 API) under the OTel awss3 exporter\'s keys, or in rrpipe\'s native or the Fluent Bit layout.',
  schema,
  validate: (c) => (c.s3uploader.kms_key_id && c.s3uploader.server_side_encryption === 'AES256' ? [{ path: ['s3uploader', 'kms_key_id'], message: 'kms_key_id needs server_side_encryption aws:kms' }] : []),
  build: (s) => {
    const c = s.config;
    const u = c.s3uploader;
    const d = layoutDefaults(c.layout);
    const format: Format = c.marshaler ?? d.format;
    return {
      openStore: () =>
        new S3Store({
          bucket: u.s3_bucket,
          region: u.region,
          endpoint: u.endpoint,
          forcePathStyle: u.s3_force_path_style,
          storageClass: u.storage_class,
          sse: u.server_side_encryption,
          sseKmsKeyId: u.kms_key_id,
          multipartThreshold: u.multipart_threshold,
          partSize: u.part_size,
        }),
      options: {
        spec: { layout: c.layout, prefix: u.s3_prefix, format, compression: u.compression ?? d.compression, partition_format: u.s3_partition_format, file_prefix: u.file_prefix },
        writeManifest: c.write_manifest ?? c.layout !== 'otel_awss3',
        parallel: c.parallel,
      },
    };
  },
});
