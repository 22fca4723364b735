import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { listen, splitHostPort } from '../../src/helpers/net.js';

describe('net helper', () => {
  it('hands server errors after listening to onError instead of throwing them', async () => {
    const server = createServer();
    const seen: string[] = [];
    const bound = await listen(server, '127.0.0.1', 0, (err) => seen.push(err.message));
    expect(bound.port).toBeGreaterThan(0);
    // An accept failure (EMFILE) is emitted as 'error' on a listening server; with no listener Node throws.
    expect(() => server.emit('error', new Error('accept EMFILE'))).not.toThrow();
    expect(seen).toEqual(['accept EMFILE']);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('rejects when the address is taken', async () => {
    const a = createServer();
    const { port } = await listen(a, '127.0.0.1', 0);
    await expect(listen(createServer(), '127.0.0.1', port)).rejects.toThrow(/EADDRINUSE/);
    await new Promise<void>((r) => a.close(() => r()));
  });

  it('parses host:port with IPv6 brackets and a default port', () => {
    expect(splitHostPort('[::1]:4318', 1)).toMatchObject({ host: '::1', port: 4318 });
    expect(splitHostPort('localhost', 4317)).toMatchObject({ host: 'localhost', port: 4317 });
  });
});
