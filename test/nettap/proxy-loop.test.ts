import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Telemetry } from '../../src/core/telemetry.js';
import type { NettapProxyReceiver } from '../../src/receivers/nettap/index.js';
import { Collector, createNettap } from './helpers.js';
import { testHost } from '../support/index.js';

/*
 * A request to the forward proxy addressed to the proxy itself used to loop: ~2,000 new
 * connections a second until file descriptors ran out and the inbound path failed.
 */

let app: http.Server;
let appPort: number;

beforeAll(async () => {
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(`app saw via=${req.headers.via ?? ''}`));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
});
afterAll(() => {
  app.closeAllConnections();
  app.close();
});

/** Send raw bytes, return the whole answer (the server closes, or the timeout hits). */
function raw(port: number, text: string, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => s.destroy(), ms);
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.write(text);
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const events = async (t: Telemetry, reason: string) => {
  const m = /rrpipe_nettap_events_total\{([^}]*)\} (\d+)/g;
  let n = 0;
  for (const x of (await t.text()).matchAll(m)) if (x[1]!.includes(`reason="${reason}"`)) n += Number(x[2]);
  return n;
};

describe('nettap proxy loops and limits', () => {
  it('refuses a request addressed to its own listener with 508, keeps the connection count bounded and the inbound path serving', async () => {
    const telemetry = new Telemetry({ processMetrics: false });
    const sink = new Collector();
    const rx = createNettap(
      { mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` }, outbound: { listen: '127.0.0.1:0', intercept_tls: false } } },
      sink,
      telemetry.forComponent('nettap', 'receiver'),
    ) as NettapProxyReceiver;
    await rx.start(testHost());
    try {
      const out = rx.port('OUT');
      const inn = rx.port('IN');
      // Absolute form, as in the report, and origin form with only a Host header; and to the inbound listener.
      for (const [target, host] of [[`http://127.0.0.1:${out}/loop`, `127.0.0.1:${out}`], ['/loop', `127.0.0.1:${out}`], [`http://localhost:${inn}/loop`, `localhost:${inn}`]] as const) {
        const answer = await raw(out, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        expect(answer, target).toMatch(/^HTTP\/1\.1 508 /);
      }
      const connect = await raw(out, `CONNECT 127.0.0.1:${out} HTTP/1.1\r\nHost: 127.0.0.1:${out}\r\n\r\n`);
      expect(connect).toMatch(/^HTTP\/1\.1 508 /);
      const proxies = rx.proxies.map((p) => p.proxy);
      await new Promise((r) => setTimeout(r, 300));
      expect(proxies.reduce((a, p) => a + p.connections, 0)).toBeLessThanOrEqual(1);
      expect(await events(telemetry, 'loop_detected')).toBe(4);
      // The application path still works, and the proxy marks its hop with Via.
      const ok = await get(inn, '/hello');
      expect(ok.status).toBe(200);
      expect(ok.body).toMatch(/via=1\.1 rrpipe-nettap-[0-9a-f]{12}/);
      await sink.waitFor(1);
      await new Promise((r) => setTimeout(r, 100));
      // Refused requests are not captured.
      expect(sink.records.map((r) => r.rrpair.location)).toEqual(['/hello']);
    } finally {
      await rx.shutdown(AbortSignal.timeout(500));
    }
  });

  it('detects a loop through a relay (a route it cannot recognise by address) by its Via mark', async () => {
    let inboundPort = 0;
    let relayed = 0;
    const relay = net.createServer((c) => {
      relayed++;
      const u = net.connect(inboundPort, '127.0.0.1');
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const telemetry = new Telemetry({ processMetrics: false });
    const rx = createNettap(
      { mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}` } } },
      new Collector(),
      telemetry.forComponent('nettap', 'receiver'),
    ) as NettapProxyReceiver;
    await rx.start(testHost());
    inboundPort = rx.port('IN');
    try {
      const r = await get(inboundPort, '/around');
      expect(r.status).toBe(508);
      await new Promise((res) => setTimeout(res, 200));
      expect(relayed).toBe(1);
      expect(await events(telemetry, 'loop_detected')).toBe(1);
    } finally {
      await rx.shutdown(AbortSignal.timeout(500));
      relay.close();
    }
  });

  it('bounds connections per client and rate-limits requests, without capturing refused ones', async () => {
    const telemetry = new Telemetry({ processMetrics: false });
    const sink = new Collector();
    const rx = createNettap(
      { mode: 'proxy', proxy: { inbound: { listen: '127.0.0.1:0', upstream: `http://127.0.0.1:${appPort}` }, limits: { max_connections_per_client: 5, requests_per_second_per_client: 1 } } },
      sink,
      telemetry.forComponent('nettap', 'receiver'),
    ) as NettapProxyReceiver;
    await rx.start(testHost());
    const socks: net.Socket[] = [];
    try {
      const port = rx.port('IN');
      for (let i = 0; i < 20; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        socks.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(rx.proxies[0]!.proxy.connections).toBe(5);
      expect(socks.filter((s) => s.destroyed || s.readableEnded).length).toBeGreaterThanOrEqual(15);
      expect(await events(telemetry, 'connection_limit')).toBe(15);
      for (const s of socks) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      // Burst of 2, refilled at 1 a second: 12 requests in a row cannot all pass.
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) codes.push((await get(port, `/r/${i}`)).status);
      const passed = codes.filter((c) => c === 200).length;
      expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
      expect(passed + codes.filter((c) => c === 429).length).toBe(12);
      await new Promise((r) => setTimeout(r, 200));
      expect(sink.records.length).toBe(passed);
      expect(await events(telemetry, 'rate_limited')).toBe(12 - passed);
    } finally {
      for (const s of socks) s.destroy();
      await rx.shutdown(AbortSignal.timeout(500));
    }
  });
});
