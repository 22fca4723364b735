import * as grpc from '@grpc/grpc-js';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { freePort, missing } from '../support/index.js';
import { makeCerts, type TestCerts } from './certs.js';
import { grpcExport, post } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { SAMPLES } from './support.js';

const TOKEN = 's3cret-token';
const body = () => Buffer.from(encodeLogsRequest(recordsToOtlpJson([newRecord(structuredClone(SAMPLES[0]!))])));

function httpsPost(port: number, ca: Buffer, headers: Record<string, string>, client?: { cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const b = body();
    const req = request({ host: '127.0.0.1', port, path: '/v1/logs', method: 'POST', ca, ...client, headers: { 'content-type': 'application/x-protobuf', 'content-length': String(b.length), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(b);
  });
}

describe.skipIf(missing('openssl', 'apt-get install openssl'))('otlp receiver and exporters: TLS, mTLS and bearer-token auth', () => {
  let certs: TestCerts;
  let svc: Running;
  let grpcPort: number;
  let httpPort: number;
  let mtlsPort: number;

  beforeAll(async () => {
    certs = makeCerts();
    grpcPort = await freePort();
    httpPort = await freePort();
    mtlsPort = await freePort();
    svc = await startService(`
extensions:
  bearertokenauth:
    token: ${TOKEN}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
        tls: { cert_file: ${certs.serverCert}, key_file: ${certs.serverKey} }
        auth: { authenticator: bearertokenauth }
      http:
        endpoint: 127.0.0.1:${httpPort}
        tls: { cert_file: ${certs.serverCert}, key_file: ${certs.serverKey} }
        auth: { authenticator: bearertokenauth }
  otlp/mtls:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${mtlsPort}
        tls: { cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}, client_ca_file: ${certs.ca} }
exporters:
  capture: {}
service:
  extensions: [bearertokenauth]
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp, otlp/mtls], exporters: [capture] }
`);
  });
  afterAll(async () => {
    await svc?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('HTTPS: no token → 401, wrong token → 401, right token → 200; plaintext HTTP is refused', async () => {
    const ca = readFileSync(certs.ca);
    expect(await httpsPost(httpPort, ca, {})).toBe(401);
    expect(await httpsPost(httpPort, ca, { authorization: 'Bearer nope' })).toBe(401);
    expect(await httpsPost(httpPort, ca, { authorization: `Bearer ${TOKEN}` })).toBe(200);
    await expect(post(httpPort, '/v1/logs', body(), { 'content-type': 'application/x-protobuf', authorization: `Bearer ${TOKEN}` })).rejects.toThrow();
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { transport: 'http', reason: 'unauthenticated' })).toBe(2);
  });

  it('gRPC over TLS: no token → UNAUTHENTICATED, right token → OK', async () => {
    const creds = grpc.credentials.createSsl(readFileSync(certs.ca));
    const no = await grpcExport(grpcPort, body(), { creds });
    expect(no.ok).toBe(false);
    if (!no.ok) expect(no.err.code).toBe(grpc.status.UNAUTHENTICATED);
    const yes = await grpcExport(grpcPort, body(), { creds, metadata: { authorization: `Bearer ${TOKEN}` } });
    expect(yes.ok).toBe(true);
  });

  it('mTLS: a client without a certificate cannot call; with one it can', async () => {
    const ca = readFileSync(certs.ca);
    const no = await grpcExport(mtlsPort, body(), { creds: grpc.credentials.createSsl(ca) });
    expect(no.ok).toBe(false);
    const yes = await grpcExport(mtlsPort, body(), { creds: grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert)) });
    expect(yes.ok).toBe(true);
  });

  it('rrpipe exporters with tls.ca_file and a bearertokenauth client deliver to the TLS + auth receiver', async () => {
    svc.sink.records.length = 0;
    const aHttp = await freePort();
    const a = await startService(`
extensions:
  bearertokenauth/client:
    token: ${TOKEN}
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${aHttp}" }
exporters:
  otlp:
    endpoint: localhost:${grpcPort}
    tls: { ca_file: ${certs.ca} }
    auth: { authenticator: bearertokenauth/client }
  otlphttp:
    endpoint: https://localhost:${httpPort}
    tls: { ca_file: ${certs.ca} }
    headers: { authorization: "Bearer ${TOKEN}" }
  otlp/mtls:
    endpoint: https://127.0.0.1:${mtlsPort}
    tls: { ca_file: ${certs.ca}, cert_file: ${certs.clientCert}, key_file: ${certs.clientKey} }
service:
  extensions: [bearertokenauth/client]
  telemetry: { metrics: { level: none }, logs: { level: silent } }
  data_dir: __DATA_DIR__
  pipelines:
    logs: { receivers: [otlp], exporters: [otlp, otlphttp, otlp/mtls] }
`);
    try {
      const r = await post(aHttp, '/v1/logs', body(), { 'content-type': 'application/x-protobuf' });
      expect(r.status).toBe(200);
      await svc.sink.waitFor(3);
      expect(svc.sink.records.map((x) => x.rrpair.uuid)).toEqual([SAMPLES[0]!.uuid, SAMPLES[0]!.uuid, SAMPLES[0]!.uuid]);
    } finally {
      await a.stop();
    }
  });
});
