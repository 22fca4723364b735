import { createServer, type RequestListener, type Server } from 'node:http';
import { splitHostPort } from '../core/service.js';

/** A small HTTP server for an extension: listen on "host:port", report the port, close all connections on stop. */
export async function listenHttp(endpoint: string, defaultPort: number, handler: RequestListener): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { host, port } = splitHostPort(endpoint, defaultPort);
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as { port: number }).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
