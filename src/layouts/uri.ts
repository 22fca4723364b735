import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataLakeStore } from './adls.js';
import { azureLocationAuth, type AzureTokenAuth } from '../helpers/azure-credential.js';
import { AzureBlobStore } from './azure.js';
import { GcsStore } from './gcs.js';
import { LocalDirStore } from './local.js';
import { S3Store } from './s3.js';
import type { ObjectStore } from './store.js';

/** Connection settings for stores named by URI (CLI, rehydrate receiver). */
export interface StoreConnection {
  s3?: { region?: string; endpoint?: string; s3_force_path_style?: boolean };
  gcs?: { project_id?: string; endpoint?: string };
  /** `auth`: an Entra ID `auth.type` as azure_blob's and azure_datalake's (managed identity, service principal); with neither it nor a key, DefaultAzureCredential. */
  azure?: { connection_string?: string; account_key?: string; endpoint?: string; auth?: AzureTokenAuth };
}

export interface Located {
  store: ObjectStore;
  /** Key (or prefix) inside the store. */
  key: string;
  /** The #fragment: the record's line (raw.jsonl) or position (otlp_json), 1-based. */
  line?: number;
}

/**
 * Open the store a URI names: s3://bucket/key, gs://bucket/key, azblob://account/container/key,
 * abfss://filesystem@account.dfs.core.windows.net/key (or abfs://),
 * file:///dir/key or a plain directory path.
 */
export function openLocation(uri: string, conn: StoreConnection = {}, opts: { fileIsObject?: boolean } = {}): Located {
  const hash = uri.lastIndexOf('#');
  let line: number | undefined;
  let base = uri;
  if (hash >= 0 && /^\d+$/.test(uri.slice(hash + 1))) {
    line = Number(uri.slice(hash + 1));
    base = uri.slice(0, hash);
  }
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)\/?(.*)$/i.exec(base);
  const scheme = m?.[1]?.toLowerCase();
  if (!m || scheme === 'file') {
    const path = scheme === 'file' ? fileURLToPath(base) : isAbsolute(base) ? base : resolve(base);
    if (opts.fileIsObject) {
      const slash = path.lastIndexOf('/');
      return { store: new LocalDirStore(path.slice(0, slash) || '/'), key: path.slice(slash + 1), ...(line ? { line } : {}) };
    }
    return { store: new LocalDirStore(path), key: '', ...(line ? { line } : {}) };
  }
  const host = decodeURIComponent(m[2]!);
  const rest = m[3]!.split('/').map(decodeURIComponent).join('/');
  const withLine = (l: Omit<Located, 'line'>): Located => (line ? { ...l, line } : l);
  switch (scheme) {
    case 's3':
      return withLine({
        store: new S3Store({ bucket: host, region: conn.s3?.region, endpoint: conn.s3?.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL, forcePathStyle: conn.s3?.s3_force_path_style ?? !!(conn.s3?.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL) }),
        key: rest,
      });
    case 'gs':
      return withLine({ store: new GcsStore({ bucket: host, projectId: conn.gcs?.project_id, apiEndpoint: conn.gcs?.endpoint }), key: rest });
    case 'azblob': {
      const slash = rest.indexOf('/');
      const container = slash < 0 ? rest : rest.slice(0, slash);
      const key = slash < 0 ? '' : rest.slice(slash + 1);
      const store = new AzureBlobStore({ container, ...azureLocationAuth(conn.azure, conn.azure?.endpoint ?? `https://${host}.blob.core.windows.net`, host, uri) });
      if (store.account !== host) throw new Error(`${uri}: the connection string is for account "${store.account}", not "${host}"`);
      return withLine({ store, key });
    }
    case 'abfs':
    case 'abfss': {
      // abfss://<filesystem>@<account>.dfs.core.windows.net/<path>
      const at = host.indexOf('@');
      if (at < 1) throw new Error(`${uri}: expected ${scheme}://<filesystem>@<account>.dfs.core.windows.net/<path>`);
      const fileSystem = host.slice(0, at);
      const account = host.slice(at + 1).split('.')[0]!;
      const store = new DataLakeStore({ fileSystem, ...azureLocationAuth(conn.azure, conn.azure?.endpoint ?? `https://${account}.dfs.core.windows.net`, account, uri) });
      if (store.account !== account) throw new Error(`${uri}: the connection string is for account "${store.account}", not "${account}"`);
      return withLine({ store, key: rest });
    }
    default:
      throw new Error(`unsupported location scheme "${scheme}://" (expected s3://, gs://, azblob://, abfss://, file:// or a directory)`);
  }
}
