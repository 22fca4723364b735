import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on a fixed port that can be taken down and brought back on the same port: an
 * outage of the backend as the client sees it (connections refused, open ones cut).
 */
export class Outage {
  private server?: Server;
  private sockets = new Set<Socket>();

  constructor(readonly port: number, private readonly targetPort: number) {}

  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const cleanup = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.pipe(upstream).pipe(client);
      client.on('error', cleanup).on('close', cleanup);
      upstream.on('error', cleanup).on('close', cleanup);
    });
    await new Promise<void>((r, j) => this.server!.once('error', j).listen(this.port, '127.0.0.1', r));
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
