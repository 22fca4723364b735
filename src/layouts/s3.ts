import type { S3Client, StorageClass, ServerSideEncryption } from '@aws-sdk/client-s3';
import { lazyRequire } from '../helpers/lazy-require.js';
import type { Readable } from 'node:stream';
import { encodeKey, NotFoundError, ObjectExistsError, readIfExists, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const s3 = lazyRequire<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3');
const storage = lazyRequire<typeof import('@aws-sdk/lib-storage')>('@aws-sdk/lib-storage');

export interface S3StoreOptions {
  bucket: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  storageClass?: string;
  /** "AES256", "aws:kms" or "aws:kms:dsse". */
  sse?: string;
  sseKmsKeyId?: string;
  /** Objects larger than this go up in parts (multipart upload, committed whole or not at all). */
  multipartThreshold?: number;
  partSize?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Whether an endpoint URL is Amazon S3's own (amazonaws.com, amazonaws.com.cn), not an S3-compatible service. */
export function isAwsEndpoint(endpoint: string): boolean {
  try {
    return /(^|\.)amazonaws\.com(\.cn)?$/.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

export class S3Store implements ObjectStore {
  readonly scheme = 's3';
  readonly client: S3Client;

  constructor(private readonly o: S3StoreOptions) {
    this.client = new (s3().S3Client)({
      region: o.region || process.env.AWS_REGION || 'us-east-1',
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle ?? false,
      ...(o.credentials ? { credentials: o.credentials } : {}),
      // S3-compatible services (GCS's XML API among them) refuse the SDK's default CRC32 checksum
      // headers (default since 3.729); AWS itself keeps them.
      ...(o.endpoint && !isAwsEndpoint(o.endpoint) ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
    });
  }

  uri(key: string): string {
    return `s3://${this.o.bucket}/${encodeKey(key)}`;
  }

  async put(key: string, body: Buffer, opts: PutOptions = {}): Promise<void> {
    const params = {
      Bucket: this.o.bucket,
      Key: key,
      Body: body,
      ...(opts.contentType ? { ContentType: opts.contentType } : {}),
      ...(this.o.storageClass ? { StorageClass: this.o.storageClass as StorageClass } : {}),
      ...(this.o.sse ? { ServerSideEncryption: this.o.sse as ServerSideEncryption } : {}),
      ...(this.o.sseKmsKeyId ? { SSEKMSKeyId: this.o.sseKmsKeyId } : {}),
    };
    try {
      if (body.length > (this.o.multipartThreshold ?? 16 << 20)) {
        const up = new (storage().Upload)({ client: this.client, params, partSize: Math.max(5 << 20, this.o.partSize ?? 8 << 20), queueSize: 4, leavePartsOnError: false });
        await up.done();
      } else {
        await this.client.send(new (s3().PutObjectCommand)({ ...params, ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}) }));
      }
    } catch (err) {
      if (statusOf(err) === 412) throw new ObjectExistsError(`${this.uri(key)} exists`);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new (s3().ListObjectsV2Command)({ Bucket: this.o.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }));
      for (const c of page.Contents ?? []) if (c.Key) yield { key: c.Key, size: Number(c.Size ?? 0) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new (s3().GetObjectCommand)({ Bucket: this.o.bucket, Key: key }));
      return res.Body as Readable;
    } catch (err) {
      if (statusOf(err) === 404 || (err as Error).name === 'NoSuchKey') throw new NotFoundError(`${this.uri(key)} does not exist`);
      throw err;
    }
  }

  getSmall(key: string): Promise<Buffer | undefined> {
    return readIfExists(this, key);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
