import type { ResolvedConfig } from '../config/load.js';
import type { StoreConnection } from '../layouts/uri.js';
import { AZURE_TOKEN_AUTH_TYPES } from './azure-credential.js';

/**
 * The endpoint and credentials to read an archive_uri with, taken from the archive exporters and
 * connectors of the config that wrote it (awss3, googlecloudstorage, azure_blob, azure_datalake): the same bucket's
 * region, custom endpoint and path style, the same storage account's connection string, key or
 * Entra ID auth (managed identity, service principal).
 * A location no component names gets the environment's defaults (AWS chain and
 * AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_KEY).
 */
export function archiveConnections(cfg: Pick<ResolvedConfig, 'components'>): (uri: string) => StoreConnection {
  const byLocation = new Map<string, StoreConnection>();
  const azure: { account?: string; conn: StoreConnection }[] = [];
  for (const section of ['exporters', 'connectors'] as const) {
    for (const c of cfg.components[section].values()) {
      const conf = c.config as Record<string, any>;
      if (c.type === 'awss3' && conf.s3uploader?.s3_bucket) {
        const u = conf.s3uploader;
        byLocation.set(`s3://${u.s3_bucket}`, { s3: { region: u.region, ...(u.endpoint ? { endpoint: u.endpoint } : {}), s3_force_path_style: !!u.s3_force_path_style } });
      } else if (c.type === 'googlecloudstorage' && conf.bucket?.name) {
        const b = conf.bucket;
        byLocation.set(`gs://${b.name}`, { gcs: { ...(b.project_id ? { project_id: b.project_id } : {}), ...(b.endpoint ? { endpoint: b.endpoint } : {}) } });
      } else if (c.type === 'azure_blob' || c.type === 'azure_datalake') {
        const a = conf.auth ?? {};
        const account = a.account_name ?? accountOf(a.connection_string) ?? accountOfUrl(conf.url);
        azure.push({
          account,
          conn: { azure: { ...(a.connection_string ? { connection_string: a.connection_string } : {}), ...(a.account_key ? { account_key: a.account_key } : {}), ...(conf.url ? { endpoint: conf.url } : {}), ...(AZURE_TOKEN_AUTH_TYPES.includes(a.type) ? { auth: a } : {}) } },
        });
      }
    }
  }
  return (uri) => {
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/#]*)/i.exec(uri);
    if (!m) return {};
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'azblob') return azure.find((a) => a.account === decodeURIComponent(m[2]!))?.conn ?? {};
    if (scheme === 'abfs' || scheme === 'abfss') {
      const account = decodeURIComponent(m[2]!).split('@')[1]?.split('.')[0];
      return azure.find((a) => a.account === account)?.conn ?? {};
    }
    return byLocation.get(`${scheme}://${decodeURIComponent(m[2]!)}`) ?? {};
  };
}

function accountOf(cs: unknown): string | undefined {
  return typeof cs === 'string' ? /(?:^|;)\s*AccountName=([^;]+)/i.exec(cs)?.[1] : undefined;
}

/** https://<account>.blob.core.windows.net, or an emulator's http://host:port/<account>. */
function accountOfUrl(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    if (/\.(blob|dfs)\./.test(u.hostname)) return u.hostname.split('.')[0];
    return u.pathname.split('/').filter(Boolean)[0];
  } catch {
    return undefined;
  }
}
