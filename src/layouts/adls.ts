import type { DataLakeFileSystemClient, DataLakeServiceClient } from '@azure/storage-file-datalake';
import type { Readable } from 'node:stream';
import type { AzureStorageAuthOptions } from '../helpers/azure-credential.js';
import { lazyRequire } from '../helpers/lazy-require.js';
import { azureServiceClient, statusOf } from './azure.js';
import { encodeKey, NotFoundError, ObjectExistsError, readIfExists, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const dl = lazyRequire<typeof import('@azure/storage-file-datalake')>('@azure/storage-file-datalake');

/** `url`: the DFS endpoint, e.g. https://account.dfs.core.windows.net; a connection string's BlobEndpoint is turned into it by the SDK. */
export interface DataLakeStoreOptions extends AzureStorageAuthOptions {
  fileSystem: string;
  /** Files larger than this are appended in chunks of this size before the one flush that commits them. */
  chunkSize?: number;
  /** Create the filesystem on the first write when it is missing. */
  createFileSystem?: boolean;
}

/**
 * Azure Data Lake Storage Gen2 (a storage account with a hierarchical namespace) through its DFS
 * API: a key's "/" parts are real directories, created with the file. A file is created, appended
 * and flushed: it is visible only once flushed, so a reader never sees half of one. Locations are
 * abfss://<filesystem>@<account>.dfs.core.windows.net/<path>, as Hadoop, Spark and Synapse name them.
 */
export class DataLakeStore implements ObjectStore {
  readonly scheme = 'abfss';
  readonly service: DataLakeServiceClient;
  readonly fs: DataLakeFileSystemClient;

  private created?: Promise<unknown>;

  constructor(private readonly o: DataLakeStoreOptions) {
    this.service = azureServiceClient(o, dl().DataLakeServiceClient, dl().StorageSharedKeyCredential, 'azure data lake');
    this.fs = this.service.getFileSystemClient(o.fileSystem);
  }

  get account(): string {
    return this.service.accountName;
  }

  uri(key: string): string {
    return `abfss://${this.o.fileSystem}@${this.account}.dfs.core.windows.net/${encodeKey(key)}`;
  }

  async put(key: string, body: Buffer, opts: PutOptions = {}): Promise<void> {
    if (this.o.createFileSystem) {
      this.created ??= this.fs.createIfNotExists().catch((err: unknown) => {
        this.created = undefined;
        throw err;
      });
      await this.created;
    }
    try {
      await this.fs.getFileClient(key).upload(body, {
        ...(opts.ifNoneMatch ? { conditions: { ifNoneMatch: '*' } } : {}),
        pathHttpHeaders: { contentType: opts.contentType ?? 'application/octet-stream', ...(opts.contentEncoding ? { contentEncoding: opts.contentEncoding } : {}) },
        chunkSize: this.o.chunkSize ?? 8 << 20,
        singleUploadThreshold: this.o.chunkSize ?? 8 << 20,
        maxConcurrency: 4,
      });
    } catch (err) {
      if (statusOf(err) === 409 || statusOf(err) === 412) throw new ObjectExistsError(`${this.uri(key)} exists`);
      throw err;
    }
  }

  /** Files under prefix: the deepest directory the prefix names is listed recursively, then filtered. */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf('/');
    const dir = slash < 0 ? '' : prefix.slice(0, slash);
    try {
      for await (const page of this.fs.listPaths({ ...(dir ? { path: dir } : {}), recursive: true }).byPage({ maxPageSize: 1000 })) {
        const files = (page.pathItems ?? []).filter((p) => !p.isDirectory && p.name !== undefined && p.name.startsWith(prefix));
        files.sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
        for (const p of files) yield { key: p.name!, size: Number(p.contentLength ?? 0) };
      }
    } catch (err) {
      if (statusOf(err) === 404) return; // the directory does not exist: nothing under it
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.fs.getFileClient(key).read();
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
