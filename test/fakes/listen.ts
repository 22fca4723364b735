import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** An HTTP server of a wire fake on 127.0.0.1 (random port) whose stop() also cuts open keep-alive connections. */
export interface FakeListener {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** With `tls` (PEM file paths): HTTPS, as a service an SDK sends bearer tokens to must be. */
export async function listenFake(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, tls?: { cert: string; key: string }): Promise<FakeListener> {
  const sockets = new Set<Socket>();
  const server = tls
    ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => void handle(req, res))
    : createServer((req, res) => void handle(req, res));
  server.on(tls ? 'secureConnection' : 'connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A request's whole body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
