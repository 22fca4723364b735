import type { TokenCredential } from '@azure/identity';
import { secret, str } from '../config/fragments.js';
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
