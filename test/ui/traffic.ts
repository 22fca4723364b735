import type { RRPair } from '../../src/rrpair/types.js';

/**
 * A small shop recorded at both ends of each call, in the samples' time window: frontend → orders
 * → payments → api.stripe.com. Each service's inbound side carries its Host, so the service map can
 * draw orders and payments as services. Every 7th order fails with 500, every 5th charge with 503.
 */
export function shopTraffic(startMs: number, n = 20): RRPair[] {
  const out: RRPair[] = [];
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
  const rr = (i: number, k: number, service: string, direction: 'IN' | 'OUT', host: string, method: string, path: string, status: number, reqBody: unknown, resBody: unknown, proto = 'http'): RRPair => ({
    msgType: 'rrpair',
    resource: 'test',
    ts: new Date(startMs + i * 30_000 + k * 10).toISOString().replace('Z', `${String(k).padStart(3, '0')}Z`),
    l7protocol: proto,
    duration: 5 + ((i * 37 + k * 11) % 200),
    uuid: Buffer.from(`shop-${String(i).padStart(4, '0')}-${k}`.padEnd(16, '.')).toString('base64'),
    direction,
    cluster: 'demo',
    namespace: 'shop',
    service,
    command: method,
    location: path,
    status: String(status),
    network_address: `${host}:${proto === 'https' ? 443 : 80}`,
    http: {
      req: { url: path, uri: path, version: '1.1', method, host, headers: { 'Content-Type': ['application/json'], 'X-Request-Id': [`req-${i}`] }, bodyBase64: b64(reqBody) },
      res: { contentType: 'application/json', statusCode: status, statusMessage: status >= 500 ? 'Error' : 'OK', headers: { 'Content-Type': ['application/json'] }, bodyBase64: b64(resBody) },
    },
  });
  for (let i = 0; i < n; i++) {
    const orderFails = i % 7 === 3;
    const chargeFails = i % 5 === 4;
    const order = { order: i, items: [{ sku: `sku-${i % 4}`, qty: 1 + (i % 3) }] };
    const orderStatus = orderFails ? 500 : 201;
    const chargeStatus = chargeFails ? 503 : 200;
    out.push(
      rr(i, 0, 'frontend', 'IN', 'frontend.svc', 'POST', '/checkout', orderStatus, order, { ok: !orderFails }),
      rr(i, 1, 'frontend', 'OUT', 'orders.svc', 'POST', '/orders', orderStatus, order, { id: `o-${i}` }),
      rr(i, 2, 'orders', 'IN', 'orders.svc', 'POST', '/orders', orderStatus, order, { id: `o-${i}` }),
      rr(i, 3, 'orders', 'OUT', 'payments.svc', 'POST', '/charge', chargeStatus, { order: i, amount: 10 * (i + 1) }, { charged: !chargeFails }),
      rr(i, 4, 'payments', 'IN', 'payments.svc', 'POST', '/charge', chargeStatus, { order: i, amount: 10 * (i + 1) }, { charged: !chargeFails }),
      rr(i, 5, 'payments', 'OUT', 'api.stripe.com', 'POST', '/v1/charges', chargeStatus, { amount: 10 * (i + 1) }, { id: `ch_${i}` }, 'https'),
    );
  }
  return out;
}
