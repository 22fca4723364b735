import type { Host } from '../core/component.js';
import { obj, str } from '../config/fragments.js';

/** Request headers as a server sees them (lower-case names; gRPC metadata fits too). */
export type RequestHeaders = { [name: string]: string | string[] | undefined };

/** An extension that checks incoming requests (the Collector's `auth.authenticator` on a server). */
export interface ServerAuthenticator {
  /** Resolves when the request may pass; rejects (with a message for the client) when not. */
  authenticate(headers: RequestHeaders): Promise<void>;
}

/** An extension that adds credentials to outgoing requests. */
export interface ClientAuthenticator {
  /** Headers to add to each request (e.g. authorization). */
  headers(): Promise<Record<string, string>>;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

/** The `auth` block of a server or client, as the Collector's confighttp/configgrpc spell it. */
export function authBlock() {
  return obj(
    { authenticator: str(undefined, 'Id of an authenticator extension (e.g. bearertokenauth).') },
    { required: ['authenticator'], description: 'Authentication by an extension.' },
  );
}

export function serverAuthenticator(host: Host, id: string | undefined): ServerAuthenticator | undefined {
  if (!id) return undefined;
  const ext = host.getExtension<Partial<ServerAuthenticator>>(id);
  if (!ext) throw new Error(`auth.authenticator: extension "${id}" is not configured in service.extensions`);
  if (typeof ext.authenticate !== 'function') throw new Error(`auth.authenticator: extension "${id}" cannot authenticate servers`);
  return ext as ServerAuthenticator;
}

export function clientAuthenticator(host: Host, id: string | undefined): ClientAuthenticator | undefined {
  if (!id) return undefined;
  const ext = host.getExtension<Partial<ClientAuthenticator>>(id);
  if (!ext) throw new Error(`auth.authenticator: extension "${id}" is not configured in service.extensions`);
  if (typeof ext.headers !== 'function') throw new Error(`auth.authenticator: extension "${id}" cannot authenticate clients`);
  return ext as ClientAuthenticator;
}
