import type { TokenCredential } from '@azure/identity';
import { obj, oneOf, secret, str } from '../config/fragments.js';
import { lazyRequire } from './lazy-require.js';

const identity = lazyRequire<typeof import('@azure/identity')>('@azure/identity');

/** The Entra ID keys the Azure components share (as azuredataexplorer's). */
export interface AzureIdentityConfig {
  /** "system" for the system-assigned managed identity, or a user-assigned identity's client id. */
  managed_identity_id?: string;
  /** DefaultAzureCredential: environment, AKS workload identity, managed identity, Azure CLI. */
  use_azure_auth?: boolean;
}

/**
 * The token credential of a component that authenticates with Entra ID, or undefined when it uses
 * a key. ManagedIdentityCredential finds the identity endpoint itself (IDENTITY_ENDPOINT +
 * IDENTITY_HEADER on App Service/Functions/Arc, MSI_ENDPOINT, else the VM's IMDS).
 */
export function azureCredential(c: AzureIdentityConfig): TokenCredential | undefined {
  if (c.managed_identity_id === 'system') return new (identity().ManagedIdentityCredential)();
  if (c.managed_identity_id) return new (identity().ManagedIdentityCredential)({ clientId: c.managed_identity_id });
  if (c.use_azure_auth) return new (identity().DefaultAzureCredential)();
  return undefined;
}

/** The Entra ID values of the OTel azureblobexporter's `auth.type` (its other values are keys and SAS). */
export const AZURE_TOKEN_AUTH_TYPES = ['service_principal', 'system_managed_identity', 'user_managed_identity', 'default_credentials'] as const;

/** The OTel azureblobexporter's `auth` block, as far as Entra ID goes. */
export interface AzureTokenAuth {
  type?: string;
  tenant_id?: string;
  client_id?: string;
  client_secret?: string;
}

/** Schema of the keys the Entra ID `auth.type`s take (the OTel azureblobexporter's names). */
export function azureTokenAuthProperties() {
  return {
    tenant_id: str(undefined, 'With service_principal: the Entra ID tenant.'),
    client_id: str(undefined, 'With service_principal: the application (client) id; with user_managed_identity: the identity\'s client id.'),
    client_secret: secret('With service_principal: the client secret.'),
  };
}

/** The credential of an OTel-style `auth` block, or undefined when its type is not an Entra ID one. */
export function azureTokenCredential(a: AzureTokenAuth, component: string): TokenCredential | undefined {
  switch (a.type) {
    case 'system_managed_identity':
      return azureCredential({ managed_identity_id: 'system' });
    case 'user_managed_identity':
      if (!a.client_id) throw new Error(`${component}: auth.client_id is required with auth.type user_managed_identity`);
      return azureCredential({ managed_identity_id: a.client_id });
    case 'service_principal':
      if (!a.tenant_id || !a.client_id || !a.client_secret) throw new Error(`${component}: auth.tenant_id, auth.client_id and auth.client_secret are required with auth.type service_principal`);
      return new (identity().ClientSecretCredential)(a.tenant_id, a.client_id, a.client_secret);
    case 'default_credentials':
      return azureCredential({ use_azure_auth: true });
    default:
      return undefined;
  }
}

/** How an Azure Storage client authenticates, as the Blob and Data Lake stores take it. */
export interface AzureStorageAuthOptions {
  /** A connection string (Azurite's, or an account's). */
  connectionString?: string;
  /** Service URL (with a SAS token when neither a key nor a credential is given). */
  url?: string;
  accountName?: string;
  accountKey?: string;
  /** Entra ID (managed identity, service principal) for `url`, instead of a key. */
  credential?: TokenCredential;
}

/** The `auth` block of the Azure Storage exporters (azure_blob, azure_datalake): the OTel azureblobexporter's keys. */
export function azureStorageAuthSchema() {
  return obj({
    type: oneOf(['connection_string', 'account_key', 'sas', ...AZURE_TOKEN_AUTH_TYPES], 'connection_string', 'How to authenticate: connection_string, account_key, sas, or Entra ID (OTel\'s service_principal, system_managed_identity, user_managed_identity, default_credentials) with url.'),
    connection_string: secret('With connection_string: the storage account connection string.'),
    account_name: str(undefined, 'With account_key: the account name (default: from the url).'),
    account_key: secret('With account_key: the account key.'),
    sas_token: secret('With sas: a SAS token (appended to url).'),
    ...azureTokenAuthProperties(),
  }, { default: {} });
}

/** The storage auth of an `auth` block as azureStorageAuthSchema() declares it. */
export function azureStorageAuth(url: string | undefined, auth: AzureTokenAuth & { connection_string?: string; account_name?: string; account_key?: string; sas_token?: string }, component: string): AzureStorageAuthOptions {
  switch (auth.type ?? 'connection_string') {
    case 'connection_string':
      if (!auth.connection_string) throw new Error('auth.connection_string is required with auth.type connection_string');
      return { connectionString: auth.connection_string };
    case 'account_key': {
      if (!url || !auth.account_key) throw new Error('url and auth.account_key are required with auth.type account_key');
      return { url, accountName: auth.account_name ?? new URL(url).hostname.split('.')[0]!, accountKey: auth.account_key };
    }
    case 'sas': {
      if (!url || !auth.sas_token) throw new Error('url and auth.sas_token are required with auth.type sas');
      return { url: `${url.replace(/\?.*$/, '')}?${auth.sas_token.replace(/^\?/, '')}` };
    }
    default:
      if (!url) throw new Error(`url is required with auth.type ${auth.type}`);
      return { url, credential: azureTokenCredential(auth, component) };
  }
}

/** The connection settings a location (azblob://, abfss://) is read with: a connection string, a key, else an Entra ID `auth` (DefaultAzureCredential when none is named). */
export function azureLocationAuth(conn: { connection_string?: string; account_key?: string; auth?: AzureTokenAuth } | undefined, url: string, account: string, uri: string): AzureStorageAuthOptions {
  const token = conn?.auth?.type ? azureTokenCredential(conn.auth, uri) : undefined;
  if (token) return { url, credential: token };
  const cs = conn?.connection_string ?? process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (cs) return { connectionString: cs };
  const accountKey = conn?.account_key ?? process.env.AZURE_STORAGE_KEY;
  if (accountKey) return { url, accountName: account, accountKey };
  if (/[?&]sig=/.test(url)) return { url }; // a SAS in the endpoint
  return { url, credential: azureTokenCredential({ type: 'default_credentials' }, uri) };
}
