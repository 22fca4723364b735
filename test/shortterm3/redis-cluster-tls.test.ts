import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../../src/exporters/redis/index.js';
import { freePort, missing, startRedis, type RedisServer } from '../support/index.js';
import { makeCerts, type TestCerts } from '../otlp/certs.js';
import { build, chunks, generatedRecords, queryAll, reference, sampleRecords, sendAndDrain } from '../shortterm2/support.js';

const fast = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '20s' },
  timeout: '10s',
};

describe.skipIf(missing('redis-server', 'apt-get install redis-server'))('redis exporter over TLS', () => {
  let server: RedisServer | undefined;
  let certs: TestCerts;
  let tlsPort = 0;

  beforeAll(async () => {
    certs = makeCerts();
    tlsPort = await freePort();
    server = await startRedis({ args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'] });
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('writes and reads back through rediss:// with the CA verified', async () => {
    const b = await build(factory, { endpoint: `rediss://127.0.0.1:${tlsPort}`, tls: { ca_file: certs.ca }, ...fast });
    try {
      const recs = [...sampleRecords(), ...generatedRecords(300)];
      await sendAndDrain(b, chunks(recs, 100));
      expect(await queryAll(b.component, { limit: 1000 })).toEqual(reference(recs));
    } finally {
      await b.stop();
    }
  }, 60_000);

  it('refuses a server whose certificate is not from the configured CA', async () => {
    const other = makeCerts();
    await expect(build(factory, { endpoint: `rediss://127.0.0.1:${tlsPort}`, tls: { ca_file: other.ca }, ...fast, connect_timeout: '3s' })).rejects.toThrow(/redis: cannot connect to rediss:\/\/127\.0\.0\.1:\d+/);
  }, 30_000);
});

describe.skipIf(missing('redis-server', 'apt-get install redis-server') ?? missing('redis-cli', 'apt-get install redis-tools'))('redis exporter against a 3-node Redis cluster', () => {
  const nodes: RedisServer[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--appendonly', 'no'] }));
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe', timeout: 30_000 });
    // Wait until every node agrees the cluster is up.
    for (let i = 0; i < 100; i++) {
      const ok = nodes.every((n) => execFileSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok'));
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the redis cluster did not become ready');
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop();
  });

  it('spreads the keys over the three nodes and reads back exactly what was written', async () => {
    const b = await build(factory, { endpoint: `127.0.0.1:${nodes[0]!.port}`, cluster: { enabled: true, nodes: nodes.map((n) => `127.0.0.1:${n.port}`) }, ...fast });
    try {
      const samples = sampleRecords();
      const gen = generatedRecords(1000);
      await sendAndDrain(b, chunks([...samples, ...gen], 200));
      expect(await queryAll(b.component, { limit: 333 })).toEqual(reference([...samples, ...gen]));
      expect(await queryAll(b.component, { service: 'orders', method: '^GET$', limit: 50 })).toEqual(reference(gen, (h) => h.doc.service === 'orders' && h.doc.command === 'GET'));
      const sizes = nodes.map((n) => Number(execFileSync('redis-cli', ['-p', String(n.port), 'dbsize'], { encoding: 'utf8' }).trim()));
      for (const s of sizes) expect(s).toBeGreaterThan(0);
    } finally {
      await b.stop();
    }
  }, 120_000);
});
