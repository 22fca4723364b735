import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/core/component.js';
import { Telemetry } from '../../src/core/telemetry.js';
import type { NettapProxyReceiver } from '../../src/receivers/nettap/index.js';
import { testHost, waitFor } from '../support/index.js';
import { createNettap } from './helpers.js';

/** A pipeline that never accepts anything (an exporter stuck on a dead backend); `handed` counts what it was given. */
let handed = 0;
const stalled: Consumer = {
  consume: (batch) => {
    handed += batch.length;
    return new Promise(() => {});
  },
};
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
    await rx.start(testHost());
    try {
      const codes = await hammer(rx.port('IN'), 60);
      expect(codes.every((c) => c === 200)).toBe(true);
      // Every capture is accounted for: handed to the stuck pipeline, waiting in the buffer, or dropped.
      const buffered = async () => (await telemetry.registry.getSingleMetric('rrpipe_queue_size')!.get()).values[0]?.value ?? 0;
      await waitFor(async () => handed + (await buffered()) + rx.dropped === 60, { what: 'all 60 captures accounted for' });
      // at most one batch (2) is in the stuck consume() call and 5 wait in the buffer: the rest were dropped
      expect(handed).toBeLessThanOrEqual(2);
      expect(await buffered()).toBe(5);
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
    await rx.start(testHost());
    try {
      const codes = await hammer(rx.port('IN'), 20);
      expect(codes.every((c) => c === 200)).toBe(true);
      // Each capture is refused by the pipeline after the response went out: wait until all 20 were.
      await waitFor(async () => (await telemetry.total('dropped', { reason: 'pipeline_refused' })) >= 20, { what: '20 refused captures' });
      expect(await telemetry.total('dropped', { reason: 'pipeline_refused' })).toBe(20);
    } finally {
      await rx.shutdown(AbortSignal.timeout(200));
    }
  });
});
