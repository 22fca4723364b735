import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/core/component.js';
import { Telemetry } from '../../src/core/telemetry.js';
import type { NettapProxyReceiver } from '../../src/receivers/nettap/index.js';
import { createNettap, fakeHost } from './helpers.js';

/** A pipeline that never accepts anything (an exporter stuck on a dead backend). */
const stalled: Consumer = { consume: () => new Promise(() => {}) };
/** A pipeline that refuses everything. */
const refusing: Consumer = { consume: () => Promise.reject(new Error('down')) };

let app: http.Server;
let appPort: number;

beforeAll(async () => {
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
});
afterAll(() => {
  app.closeAllConnections();
  app.close();
});

async function hammer(port: number, n: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const codes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `/r/${i}`, method: 'POST', agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end('payload');
      }),
    ),
  );
  agent.destroy();
  return codes;
}

describe('nettap never harms the application', () => {
  it('keeps answering when the pipeline is stalled, and counts the dropped captures', async () => {
    const telemetry = new Telemetry({ processMetrics: false });
    const rx = createNettap(
      { mode: 'proxy', buffer: { max_records: 5, batch_size: 2, max_in_flight: 1 }, proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` } } },
      stalled,
      telemetry.forComponent('nettap', 'receiver'),
    ) as NettapProxyReceiver;
    await rx.start(fakeHost);
    try {
      const codes = await hammer(rx.port('IN'), 60);
      expect(codes.every((c) => c === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      // at most one batch (2) is in the stuck consume() call and 5 wait in the buffer: the rest were dropped
      expect(rx.dropped).toBeGreaterThanOrEqual(60 - 7);
      expect(rx.dropped).toBeLessThan(60);
      expect(await telemetry.total('dropped', { reason: 'capture_overflow' })).toBe(rx.dropped);
    } finally {
      await rx.shutdown(AbortSignal.timeout(200));
    }
  });

  it('keeps answering when the pipeline refuses, and counts those drops', async () => {
    const telemetry = new Telemetry({ processMetrics: false });
    const rx = createNettap(
      { mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` } } },
      refusing,
      telemetry.forComponent('nettap', 'receiver'),
    ) as NettapProxyReceiver;
    await rx.start(fakeHost);
    try {
      const codes = await hammer(rx.port('IN'), 20);
      expect(codes.every((c) => c === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      expect(await telemetry.total('dropped', { reason: 'pipeline_refused' })).toBe(20);
    } finally {
      await rx.shutdown(AbortSignal.timeout(200));
    }
  });
});
