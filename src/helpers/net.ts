import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import type { ServerTlsOptions } from './tls.js';

/**
 * Addresses and listening, in one place: every receiver, extension and the service parse
 * "host:port" and open their listening sockets through this module.
 */

export interface HostPort {
  host: string;
  port: number;
}

/** "host:port", "[v6]:port", "host" or ":port". The host may be empty; undefined when it does not parse. */
export function parseHostPort(s: string, defaultPort: number): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(s.trim());
  if (!m) return undefined;
  return { host: m[1] ?? m[2] ?? '', port: m[3] !== undefined ? Number(m[3]) : defaultPort };
}

/**
 * A configured address. Throws a clear error when it does not parse; an empty host becomes
 * `defaultHost` (all interfaces for a listener).
 */
export function splitHostPort(addr: string, defaultPort: number, defaultHost = '0.0.0.0'): HostPort {
  const hp = parseHostPort(addr, defaultPort);
  if (!hp) throw new Error(`invalid address "${addr}" (expected host:port)`);
  return { host: hp.host === '' ? defaultHost : hp.host, port: hp.port };
}

/** "host:port" for a dialer (IPv6 hosts in brackets), e.g. gRPC's bind address. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Listen on host:port; resolves with the bound address (port 0 picks a free one), rejects on
 * EADDRINUSE and the like. Once listening, later server errors (an accept failing with EMFILE)
 * go to `onError` instead of crashing the process: a full file table must not take the daemon down.
 */
export function listen(server: Server, host: string, port: number, onError: (err: Error) => void = warnServerError): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * A small HTTP server for an extension: listen on "host:port" (HTTPS with `tls`, from
 * serverTlsOptions; client certificates required when it names a client CA), report the port,
 * close all connections on stop.
 */
export async function listenHttp(endpoint: string, defaultPort: number, handler: RequestListener, tls?: ServerTlsOptions): Promise<{ server: HttpServer | HttpsServer; port: number; close(): Promise<void> }> {
  const { host, port } = splitHostPort(endpoint, defaultPort);
  const server = tls ? httpsServer(tls, handler) : createServer(handler);
  const bound = await listen(server, host, port);
  return {
    server,
    port: bound.port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function httpsServer(tls: ServerTlsOptions, handler: RequestListener): HttpsServer {
  const { clientCa, ...context } = tls;
  return createHttpsServer({ ...context, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, handler);
}

function warnServerError(err: Error): void {
  process.emitWarning(`server error after listening: ${err.message}`);
}
