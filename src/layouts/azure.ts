import type { TokenCredential } from '@azure/identity';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { lazyRequire } from '../helpers/lazy-require.js';
import type { Readable } from 'node:stream';
import { encodeKey, NotFoundError, ObjectExistsError, readAll, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const blob = lazyRequire<typeof import('@azure/storage-blob')>('@azure/storage-blob');

export interface AzureStoreOptions {
  container: string;
  /** A connection string (Azurite's, or an account's). */
  connectionString?: string;
  /** Service URL, e.g. https://account.blob.core.windows.net (with a SAS token if no key is given). */
  url?: string;
  accountName?: string;
  accountKey?: string;
  /** Entra ID (managed identity, service principal) for `url`, instead of a key. */
  credential?: TokenCredential;
  /** Hot, Cool, Cold or Archive. */
  accessTier?: string;
  /** Server-side encryption with an encryption scope. */
  encryptionScope?: string;
  /** Blobs larger than this go up as blocks, committed whole by one Put Block List. */
  maxSingleShotSize?: number;
  blockSize?: number;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

export class AzureBlobStore implements ObjectStore {
  readonly scheme = 'azblob';
  readonly service: BlobServiceClient;
  readonly container: ContainerClient;

  constructor(private readonly o: AzureStoreOptions) {
    if (o.connectionString) this.service = blob().BlobServiceClient.fromConnectionString(o.connectionString);
    else if (o.url && o.credential) this.service = new (blob().BlobServiceClient)(o.url, o.credential);
    else if (o.url && o.accountName && o.accountKey) this.service = new (blob().BlobServiceClient)(o.url, new (blob().StorageSharedKeyCredential)(o.accountName, o.accountKey));
    else if (o.url) this.service = new (blob().BlobServiceClient)(o.url);
    else throw new Error('azure blob: set a connection_string, or a url (with account_name/account_key, a SAS token or an Entra ID credential)');
    this.container = this.service.getContainerClient(o.container);
  }

  get account(): string {
    return this.service.accountName;
  }

  uri(key: string): string {
    return `azblob://${this.account}/${this.o.container}/${encodeKey(key)}`;
  }

  async put(key: string, body: Buffer, opts: PutOptions = {}): Promise<void> {
    try {
      await this.container.getBlockBlobClient(key).uploadData(body, {
        ...(this.o.accessTier ? { tier: this.o.accessTier } : {}),
        ...(this.o.encryptionScope ? { encryptionScope: this.o.encryptionScope } : {}),
        blobHTTPHeaders: { blobContentType: opts.contentType ?? 'application/octet-stream' },
        maxSingleShotSize: this.o.maxSingleShotSize ?? 64 << 20,
        blockSize: this.o.blockSize ?? 8 << 20,
        concurrency: 4,
        ...(opts.ifNoneMatch ? { conditions: { ifNoneMatch: '*' } } : {}),
      });
    } catch (err) {
      if (statusOf(err) === 409 || statusOf(err) === 412) throw new ObjectExistsError(`${this.uri(key)} exists`);
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1000 })) {
      for (const b of page.segment.blobItems) yield { key: b.name, size: Number(b.properties.contentLength ?? 0) };
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.container.getBlobClient(key).download();
      return res.readableStreamBody as Readable;
    } catch (err) {
      if (statusOf(err) === 404) throw new NotFoundError(`${this.uri(key)} does not exist`);
      throw err;
    }
  }

  async getSmall(key: string): Promise<Buffer | undefined> {
    try {
      return await readAll(await this.get(key));
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }
}
