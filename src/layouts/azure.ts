import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { AzureStorageAuthOptions } from '../helpers/azure-credential.js';
import { lazyRequire } from '../helpers/lazy-require.js';
import type { Readable } from 'node:stream';
import { encodeKey, NotFoundError, ObjectExistsError, readIfExists, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const blob = lazyRequire<typeof import('@azure/storage-blob')>('@azure/storage-blob');

/** `url`: the Blob service URL, e.g. https://account.blob.core.windows.net. */
export interface AzureStoreOptions extends AzureStorageAuthOptions {
  container: string;
  /** Hot, Cool, Cold or Archive. */
  accessTier?: string;
  /** Server-side encryption with an encryption scope. */
  encryptionScope?: string;
  /** Blobs larger than this go up as blocks, committed whole by one Put Block List. */
  maxSingleShotSize?: number;
  blockSize?: number;
}

/** The service client of either storage SDK (Blob, Data Lake) for its auth: connection string, Entra ID token, shared key, or the url alone (SAS). */
export function azureServiceClient<T, K>(
  o: AzureStorageAuthOptions,
  Client: { new (url: string, credential?: NoInfer<K> | NonNullable<AzureStorageAuthOptions['credential']>): T; fromConnectionString(cs: string): T },
  SharedKey: new (account: string, key: string) => K,
  what: string,
): T {
  if (o.connectionString) return Client.fromConnectionString(o.connectionString);
  if (o.url && o.credential) return new Client(o.url, o.credential);
  if (o.url && o.accountName && o.accountKey) return new Client(o.url, new SharedKey(o.accountName, o.accountKey));
  if (o.url) return new Client(o.url);
  throw new Error(`${what}: set a connection_string, or a url (with account_name/account_key, a SAS token or an Entra ID credential)`);
}

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

export class AzureBlobStore implements ObjectStore {
  readonly scheme = 'azblob';
  readonly service: BlobServiceClient;
  readonly container: ContainerClient;

  constructor(private readonly o: AzureStoreOptions) {
    this.service = azureServiceClient(o, blob().BlobServiceClient, blob().StorageSharedKeyCredential, 'azure blob');
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

  getSmall(key: string): Promise<Buffer | undefined> {
    return readIfExists(this, key);
  }
}
