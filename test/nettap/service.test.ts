import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { ca } from '../../src/cli/commands/ca.js';
import { Flow, pcapFile } from './craft.js';
import { tmp } from '../support/index.js';

const dir = tmp('nettap-svc-');

describe('nettap in a service', () => {
  it('runs a pcap file through batch to an exporter as a one-shot job, every record accepted', async () => {
    const f = new Flow(['10.0.0.2', 50000], ['10.0.0.1', 8080]).handshake();
    f.c('GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n');
    f.s('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb');
    f.close();
    writeFileSync(join(dir, 'c.pcap'), pcapFile(f.pkts));
    const yaml = `
receivers:
  nettap:
    mode: pcap
    service: checkout
    pcap: { file: ${join(dir, 'c.pcap')}, local_ports: [8080] }
processors:
  batch: {}
exporters:
  debug: {}
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    logs: { receivers: [nettap], processors: [batch], exporters: [debug] }
`;
    const svc = new Service({ files: ['x.yaml'], texts: { 'x.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger(), oneShot: true });
    await svc.start();
    await svc.receiversDone();
    await svc.shutdown();
    expect(await svc.telemetry.total('accepted', { component: 'nettap' })).toBe(2);
  });

  it('rejects a proxy config without inbound or outbound, and a bad mode', async () => {
    const registry = await builtinRegistry();
    const bad = (body: string) => `receivers:\n  nettap:\n${body}\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    logs: { receivers: [nettap], exporters: [debug] }\n`;
    await expect(loadConfig(['a.yaml'], { registry, texts: { 'a.yaml': bad('    mode: proxy') } })).rejects.toThrow(/inbound and\/or proxy.outbound/);
    await expect(loadConfig(['b.yaml'], { registry, texts: { 'b.yaml': bad('    mode: sniff') } })).rejects.toBeInstanceOf(ConfigError);
    await expect(loadConfig(['c.yaml'], { registry, texts: { 'c.yaml': bad('    proxy: { inbound: { listen: ":1" } }') } })).rejects.toThrow(/upstream/);
  });

  it('`rrpipe ca` creates the CA once and prints the same certificate again', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await ca.run(['--dir', join(dir, 'ca')])).toBe(0);
      expect(await ca.run(['--dir', join(dir, 'ca')])).toBe(0);
      expect(await ca.run(['--dir', join(dir, 'ca'), '--path'])).toBe(0);
    } finally {
      process.stdout.write = write;
      process.stderr.write = err;
    }
    expect(out[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(out[1]).toBe(out[0]);
    expect(out[2]!.trim()).toBe(join(dir, 'ca', 'rrpipe-ca.pem'));
    const { X509Certificate } = await import('node:crypto');
    const cert = new X509Certificate(out[0]!);
    expect(cert.ca).toBe(true);
  });
});
