import type { Storage, Bucket } from '@google-cloud/storage';
import { lazyRequire } from '../helpers/lazy-require.js';
import { PassThrough, type Readable } from 'node:stream';
import { encodeKey, NotFoundError, ObjectExistsError, readIfExists, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const gcs = lazyRequire<typeof import('@google-cloud/storage')>('@google-cloud/storage');

export interface GcsStoreOptions {
  bucket: string;
  projectId?: string;
  /** API endpoint, e.g. http://127.0.0.1:4443 for an emulator (no auth is sent to a custom endpoint). */
  apiEndpoint?: string;
  storageClass?: string;
  /** Cloud KMS key for CMEK server-side encryption. */
  kmsKeyName?: string;
  /** Objects larger than this use a resumable upload. */
  resumableThreshold?: number;
  /** Resumable upload chunk size (a multiple of 256 KiB). */
  chunkSize?: number;
}

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

export class GcsStore implements ObjectStore {
  readonly scheme = 'gs';
  readonly storage: Storage;
  readonly bucket: Bucket;

  constructor(private readonly o: GcsStoreOptions) {
    this.storage = new (gcs().Storage)({
      ...(o.projectId ? { projectId: o.projectId } : {}),
      ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
    });
    this.bucket = this.storage.bucket(o.bucket);
  }

  uri(key: string): string {
    return `gs://${this.o.bucket}/${encodeKey(key)}`;
  }

  async put(key: string, body: Buffer, opts: PutOptions = {}): Promise<void> {
    const resumable = body.length > (this.o.resumableThreshold ?? 8 << 20);
    try {
      await this.bucket.file(key, this.o.kmsKeyName ? { kmsKeyName: this.o.kmsKeyName } : {}).save(body, {
        resumable,
        ...(resumable && this.o.chunkSize ? { chunkSize: this.o.chunkSize } : {}),
        validation: 'crc32c',
        // Content-Encoding is left unset on purpose: GCS would transcode gzip objects on download.
        metadata: { contentType: opts.contentType ?? 'application/octet-stream', ...(this.o.storageClass ? { storageClass: this.o.storageClass } : {}) },
        ...(opts.ifNoneMatch ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
    } catch (err) {
      if (codeOf(err) === 412) throw new ObjectExistsError(`${this.uri(key)} exists`);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.bucket.getFiles({ prefix, autoPaginate: false, maxResults: 1000, ...(pageToken ? { pageToken } : {}) });
      for (const f of files) yield { key: f.name, size: Number(f.metadata.size ?? 0) };
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  }

  async get(key: string): Promise<Readable> {
    const stream = this.bucket.file(key).createReadStream({ validation: 'crc32c' });
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // The request starts once the stream is piped; surface "not found" before the first byte, like the other stores.
    return new Promise((resolve, reject) => {
      let started = false;
      stream.once('response', (res: { statusCode?: number } | undefined) => {
        if ((res?.statusCode ?? 200) >= 300) return; // the error event follows
        started = true;
        resolve(out);
      });
      stream.on('error', (err: unknown) => {
        if (!started) reject(codeOf(err) === 404 ? new NotFoundError(`${this.uri(key)} does not exist`) : err);
        else out.destroy(err as Error);
      });
      out.on('close', () => stream.destroy());
      stream.pipe(out);
    });
  }

  getSmall(key: string): Promise<Buffer | undefined> {
    return readIfExists(this, key);
  }
}
