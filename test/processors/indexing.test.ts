import { describe, expect, it } from 'vitest';
import { factory } from '../../src/processors/indexing/index.js';
import { buildIndexDoc, deriveCLS, indexDocOf } from '../../src/rrpair/derive.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { allSamples, b64, configOf, makeProcessor, rec } from './helpers.js';

/** A gRPC call as an HTTP/2 capture records it: path /package.Service/Method, grpc-status in the trailers. */
const grpcHttp2: RRPair = {
  msgType: 'rrpair', ts: '2025-03-18T00:41:46.5Z', l7protocol: 'grpc', duration: 12, direction: 'IN',
  cluster: 'prod', namespace: 'shop', service: 'checkout', network_address: '10.0.0.7:50051',
  uuid: 'AAECAwQFBgcICQoLDA0ODw==',
  http: {
    req: { url: '/shop.v1.OrderService/CreateOrder', uri: '/shop.v1.OrderService/CreateOrder', method: 'POST', version: '2.0', host: 'orders.shop.svc:50051',
      headers: { 'Content-Type': ['application/grpc'], Te: ['trailers'] }, bodyBase64: b64(Buffer.from([0, 0, 0, 0, 3, 8, 1, 16])) },
    res: { statusCode: 200, headers: { 'Content-Type': ['application/grpc'] }, trailers: { 'Grpc-Status': ['5'], 'Grpc-Message': ['order not found'] } },
  },
};

/** A gRPC call with a structured grpc object. */
const grpcObject: RRPair = {
  msgType: 'rrpair', ts: '2025-03-18T00:41:47Z', l7protocol: 'grpc', direction: 'OUT', service: 'checkout',
  grpc: { service: 'payments.v2.Payments', method: 'Charge', status: 0 },
};

/** Postgres as assumed in the indexing README: postgres.req.query / params, postgres.res.error.code. */
const pgOk: RRPair = {
  msgType: 'rrpair', ts: '2025-03-18T00:41:48.123456789Z', l7protocol: 'postgres', direction: 'OUT', service: 'orders',
  network_address: 'db.internal:5432', duration: 3,
  postgres: { req: { query: 'SELECT id, total\n  FROM orders\n WHERE customer_id = $1', params: ['42'] }, res: { commandTag: 'SELECT 1', rows: [['1', '9.99']] } },
};
const pgErr: RRPair = {
  msgType: 'rrpair', ts: '2025-03-18T00:41:49Z', l7protocol: 'postgres', direction: 'OUT',
  postgres: { req: { query: 'INSERT INTO orderz VALUES ($1)' }, res: { error: { code: '42P01', message: 'relation "orderz" does not exist' } } },
};

describe('command/location/status derivation', () => {
  it('HTTP: method, path without query, status code', () => {
    const cls = deriveCLS({ http: { req: { method: 'POST', uri: '/api/orders?x=1#f' }, res: { statusCode: 404 } } });
    expect(cls).toEqual({ command: 'POST', location: '/api/orders', status: '404' });
    expect(deriveCLS({ l7protocol: 'https', http: { req: { method: 'GET', url: 'https://h.example/a/b?q' }, res: { statusCode: 200 } } }).location).toBe('/a/b');
  });

  it('keeps what the capture set', () => {
    const [s] = allSamples();
    expect(deriveCLS({ ...s!, command: 'X', location: '/y', status: '1' })).toEqual({ command: 'X', location: '/y', status: '1' });
  });

  it('gRPC over HTTP/2: method name, /package.Service/Method, grpc-status', () => {
    expect(deriveCLS(grpcHttp2)).toEqual({ command: 'CreateOrder', location: '/shop.v1.OrderService/CreateOrder', status: '5' });
  });

  it('gRPC from a grpc object, and detected by content type when l7protocol says http2', () => {
    expect(deriveCLS(grpcObject)).toEqual({ command: 'Charge', location: '/payments.v2.Payments/Charge', status: '0' });
    const h2: RRPair = { ...grpcHttp2, l7protocol: 'http2', http: { ...grpcHttp2.http, res: { statusCode: 200, headers: { 'grpc-status': ['0'] } } } };
    expect(deriveCLS(h2)).toEqual({ command: 'CreateOrder', location: '/shop.v1.OrderService/CreateOrder', status: '0' });
  });

  it('Postgres: Query, the SQL on one line, OK or the SQLSTATE', () => {
    expect(deriveCLS(pgOk)).toEqual({ command: 'Query', location: 'SELECT id, total FROM orders WHERE customer_id = $1', status: 'OK' });
    expect(deriveCLS(pgErr)).toEqual({ command: 'Query', location: 'INSERT INTO orderz VALUES ($1)', status: '42P01' });
  });

  it('other protocols: the documented fallback', () => {
    expect(deriveCLS({ l7protocol: 'redis', network_address: 'cache:6379' })).toEqual({ command: 'REDIS', location: 'cache:6379', status: '' });
    expect(deriveCLS({})).toEqual({ command: '', location: '', status: '' });
  });
});

describe('indexing processor', () => {
  it('indexes real samples: identity from attributes when the body says "undefined"', async () => {
    const { proc, sink } = await makeProcessor(factory);
    const samples = allSamples();
    const input = samples.map((s) => rec(s, { resource: { cluster: 'c1' }, attributes: { service: 'openai-client', namespace: 'ml' } }));
    await proc.consume(input, {});
    const out = sink.records;
    expect(out).toHaveLength(samples.length);
    const d = out[0]!.index!;
    expect(d).toMatchObject({ id: '90QL6GJ/S9aQNS9BG+zhuA==', ts: '2025-03-18T00:41:46.221941000Z', cluster: 'c1', namespace: 'ml', service: 'openai-client',
      direction: 'OUT', l7protocol: 'https', command: 'POST', location: '/v1/chat/completions', status: '200', host: 'api.openai.com', duration: 741 });
    expect(d.req_size).toBe(Buffer.from(samples[0]!.http!.req!.bodyBase64!, 'base64').length);
    expect(d.res_size).toBe(Buffer.from(samples[0]!.http!.res!.bodyBase64!, 'base64').length);
    // nothing else changes: the RRPair is the same object, unmodified, and the input record has no index
    expect(out[0]!.rrpair).toBe(input[0]!.rrpair);
    expect(input[0]!.index).toBeUndefined();
    expect(JSON.stringify(out.map((r) => r.rrpair))).toBe(JSON.stringify(samples));
    expect(factory.mutatesData).toBe(false);
  });

  it('indexes gRPC and Postgres RRPairs', async () => {
    const { proc, sink } = await makeProcessor(factory);
    await proc.consume([rec(grpcHttp2), rec(pgOk), rec(pgErr)], {});
    const [g, p, e] = sink.records.map((r) => r.index!);
    expect(g).toMatchObject({ command: 'CreateOrder', location: '/shop.v1.OrderService/CreateOrder', status: '5', host: 'orders.shop.svc:50051', direction: 'IN', id: 'AAECAwQFBgcICQoLDA0ODw==', cluster: 'prod' });
    expect(p).toMatchObject({ command: 'Query', location: 'SELECT id, total FROM orders WHERE customer_id = $1', status: 'OK', host: 'db.internal', ts: '2025-03-18T00:41:48.123456789Z' });
    expect(e!.status).toBe('42P01');
  });

  it('a stable id made from the content when uuid is missing, whatever the key order', () => {
    const a = buildIndexDoc(rec({ ts: '2025-01-01T00:00:00Z', service: 's', http: { req: { method: 'GET' } } }));
    const b = buildIndexDoc(rec({ http: { req: { method: 'GET' } }, service: 's', ts: '2025-01-01T00:00:00Z' }));
    const c = buildIndexDoc(rec({ http: { req: { method: 'PUT' } }, service: 's', ts: '2025-01-01T00:00:00Z' }));
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
  });

  it('adds extra fields by path (header, JSON body, tags, attributes) and keeps archive_uri via indexDocOf', async () => {
    const { proc, sink } = await makeProcessor(factory, {
      extra_fields: { model: 'http.req.body.json.$.model', ray: 'http.res.headers.cf-ray.0', source: 'tags.source', pod: 'attributes.k8s.pod.name', missing: 'http.req.headers.X-None' },
    });
    const [s] = allSamples();
    await proc.consume([rec(s!, { attributes: { 'k8s.pod.name': 'p-1' } })], {});
    const r = sink.records[0]!;
    expect(r.index).toMatchObject({ model: 'gpt-4o', ray: '9220afabfcad4542-ATL', source: 'responder', pod: 'p-1' });
    expect('missing' in r.index!).toBe(false);
    expect(indexDocOf({ ...r, location: 's3://b/k#1' }).archive_uri).toBe('s3://b/k#1');
  });

  it('refuses an extra field that shadows a built-in one', () => {
    expect(() => configOf(factory, { extra_fields: { status: 'tags.x' } })).toThrow(/built-in index field/);
  });

  it('bad input: missing http, wrong types, never throws, all records pass', async () => {
    const { proc, sink } = await makeProcessor(factory);
    const bad = [
      {},
      { http: 'nope' },
      { http: { req: 'x', res: 7 } },
      { ts: 12, duration: 'long', direction: 3, l7protocol: ['x'], uuid: 5, http: { req: { headers: 'h', uri: 9, method: {} }, res: { statusCode: 'abc' } } },
      { postgres: 'SELECT 1', l7protocol: 'postgres' },
      { grpc: [], l7protocol: 'grpc' },
    ] as unknown as RRPair[];
    await proc.consume(bad.map((b) => rec(b)), {});
    expect(sink.records).toHaveLength(bad.length);
    for (const r of sink.records) expect(typeof r.index?.id).toBe('string');
    expect(sink.records[3]!.index).toMatchObject({ ts: '2023-11-14T22:13:20.000000000Z', duration: 0, direction: '', command: '' });
  });
});
