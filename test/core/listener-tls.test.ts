import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createHealthCheck } from '../../src/extensions/health_check/index.js';
import { missing, testHost } from '../support/index.js';
import { makeCerts } from '../otlp/certs.js';

function fetchStatus(get: typeof httpsGet | typeof httpGet, opts: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(opts, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

const load = async (yaml: string) => loadConfig(['c.yaml'], { registry: await builtinRegistry(), texts: { 'c.yaml': yaml }, env: {} });

async function errorsOf(yaml: string): Promise<string[]> {
  try {
    await load(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

const PIPE = 'receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  embedded:\n    path: ":memory:"\nservice:\n  pipelines:\n    logs: { receivers: [otlp], exporters: [embedded] }\n';

describe('extension listeners take the server TLS fragment', () => {
  it.skipIf(missing('openssl', 'apt-get install openssl'))('health_check serves HTTPS with cert_file/key_file, and requires a client certificate with client_ca_file', async () => {
    const certs = makeCerts();
    const ca = readFileSync(certs.ca);
    const hc = createHealthCheck({ endpoint: '127.0.0.1:0', path: '/', tls: { cert_file: certs.serverCert, key_file: certs.serverKey, min_version: '1.2' } });
    await hc.start(testHost());
    try {
      const ok = await fetchStatus(httpsGet, { host: '127.0.0.1', port: hc.port, path: '/', ca });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body).status).toBe('Server available');
      await expect(fetchStatus(httpGet, { host: '127.0.0.1', port: hc.port, path: '/' })).rejects.toThrow();
    } finally {
      await hc.shutdown(AbortSignal.timeout(5000));
    }

    const mtls = createHealthCheck({ endpoint: '127.0.0.1:0', path: '/', tls: { cert_file: certs.serverCert, key_file: certs.serverKey, client_ca_file: certs.ca, min_version: '1.2' } });
    await mtls.start(testHost());
    try {
      await expect(fetchStatus(httpsGet, { host: '127.0.0.1', port: mtls.port, path: '/', ca })).rejects.toThrow();
      const ok = await fetchStatus(httpsGet, { host: '127.0.0.1', port: mtls.port, path: '/', ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
      expect(ok.status).toBe(200);
    } finally {
      await mtls.shutdown(AbortSignal.timeout(5000));
    }
  });

  it('a client-only TLS key on health_check or query_api is an error', async () => {
    const errs = await errorsOf(`${PIPE}extensions:\n  health_check:\n    tls: { cert_file: s.pem, key_file: s.key, insecure_skip_verify: true }\n  query_api:\n    store: embedded\n    tls: { ca_file: ca.pem }\n`.replace('service:\n', 'service:\n  extensions: [health_check, query_api]\n'));
    expect(errs.some((e) => /extensions\.health_check: unknown key "insecure_skip_verify"$/.test(e))).toBe(true);
    expect(errs.some((e) => /extensions\.query_api: unknown key "ca_file"$/.test(e))).toBe(true);
  });

  it('without a tls block the listeners stay plaintext and print-config shows no tls', async () => {
    const cfg = await load(`${PIPE}extensions:\n  health_check:\n  query_api:\n    store: embedded\n`.replace('service:\n', 'service:\n  extensions: [health_check, query_api]\n'));
    expect(cfg.components.extensions.get('health_check')!.config).not.toHaveProperty('tls');
    expect(cfg.components.extensions.get('query_api')!.config).not.toHaveProperty('tls');
  });
});
