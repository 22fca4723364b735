import type { TokenCredential } from '@azure/identity';
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
