import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../src/core/telemetry.js';
import type { NettapPcapReceiver } from '../../src/receivers/nettap/index.js';
import { Flow, pcapFile, pcapngFile, type Pkt } from './craft.js';
import { Collector, createNettap, decode } from './helpers.js';
import { testHost, tmp } from '../support/index.js';

const dir = tmp('nettap-craft-');

async function readCapture(bytes: Buffer, extra: Record<string, unknown> = {}) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, bytes);
  const col = new Collector();
  const telemetry = new Telemetry({ processMetrics: false });
  const rx = createNettap({ mode: 'pcap', pcap: { file, local_ports: [8080], ...extra } }, col, telemetry.forComponent('nettap', 'receiver')) as NettapPcapReceiver;
  await rx.start(testHost());
  await rx.done();
  await rx.shutdown(AbortSignal.timeout(1000));
  const events = async (reason: string) => {
    const m = await telemetry.registry.getSingleMetric('rrpipe_nettap_events_total')?.get();
    return m?.values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0) ?? 0;
  };
  return { records: col.records.map((r) => r.rrpair), events };
}

const req1 = 'GET /a HTTP/1.1\r\nHost: api.local:8080\r\n\r\n';
const req2 = 'POST /b?x=1 HTTP/1.1\r\nHost: api.local:8080\r\nContent-Length: 5\r\n\r\nhello';
const res1 = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\none';
const res2 = 'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"e"\r\n3\r\n:1}\r\n0\r\n\r\n';

describe('nettap pcap, crafted captures', () => {
  it('pairs pipelined requests with their responses, in order', async () => {
    const f = new Flow(['10.0.0.2', 50000], ['10.0.0.1', 8080]).handshake();
    f.c(req1 + req2); // both requests in one segment
    f.s(res1 + res2.slice(0, 30));
    f.s(res2.slice(30));
    f.close();
    for (const bytes of [pcapFile(f.pkts), pcapngFile(f.pkts)]) {
      const { records } = await readCapture(bytes);
      expect(records.map((r) => `${r.command} ${r.location} ${r.status}`)).toEqual(['GET /a 200', 'POST /b 404']);
      const [a, b] = records;
      expect(decode(a!.http!.res!.bodyBase64).toString()).toBe('one');
      expect(decode(b!.http!.req!.bodyBase64).toString()).toBe('hello');
      expect(decode(b!.http!.res!.bodyBase64).toString()).toBe('{"e":1}');
      expect(b!.http!.req!.queryParams).toEqual({ x: ['1'] });
      expect(a).toMatchObject({ direction: 'IN', l7protocol: 'http', network_address: 'api.local:8080', tags: { captureMode: 'pcap' } });
      expect(a!.ts).toBe('2023-11-14T22:13:20.004000Z');
      expect(a!.netinfo).toMatchObject({ upstream: { port: 8080, address: '10.0.0.1' }, downstream: { address: '10.0.0.2', port: 50000 } });
    }
  });

  it('reassembles out-of-order segments and ignores retransmissions', async () => {
    const f = new Flow(['10.0.0.2', 50001], ['10.0.0.1', 8080]).handshake();
    const p1 = f.c(req2.slice(0, 10));
    const p2 = f.c(req2.slice(10, 40));
    const p3 = f.c(req2.slice(40));
    const r1 = f.s(res1.slice(0, 20));
    const r2 = f.s(res1.slice(20));
    f.close();
    const hs = f.pkts.slice(0, 3);
    const tail = f.pkts.slice(8);
    const retrans: Pkt = { ts: p2.ts + 50, frame: p2.frame };
    const pkts = [...hs, p3, p1, retrans, p2, r2, r1, { ts: r1.ts + 1, frame: r1.frame }, ...tail];
    const { records, events } = await readCapture(pcapFile(pkts));
    expect(records).toHaveLength(1);
    expect(decode(records[0]!.http!.req!.bodyBase64).toString()).toBe('hello');
    expect(decode(records[0]!.http!.res!.bodyBase64).toString()).toBe('one');
    expect(await events('tcp_retransmission')).toBeGreaterThanOrEqual(2);
  });

  it('keeps reused 4-tuples apart (a new SYN starts a new connection)', async () => {
    const f1 = new Flow(['10.0.0.2', 50002], ['10.0.0.1', 8080]).handshake();
    f1.c(req1);
    f1.s(res1);
    f1.close();
    const f2 = new Flow(['10.0.0.2', 50002], ['10.0.0.1', 8080], f1.t + 10, 9_000_000).handshake();
    f2.c(req2);
    f2.s(res2);
    f2.close();
    const { records } = await readCapture(pcapFile([...f1.pkts, ...f2.pkts]));
    expect(records.map((r) => r.location)).toEqual(['/a', '/b']);
  });

  it('decides direction from local_ports: a call to another port is OUT', async () => {
    const f = new Flow(['10.0.0.1', 40000], ['93.184.216.34', 80]).handshake();
    f.c('GET /ext HTTP/1.1\r\nHost: example.com\r\n\r\n');
    f.s(res1);
    f.close();
    const { records } = await readCapture(pcapFile(f.pkts));
    expect(records[0]).toMatchObject({ direction: 'OUT', location: '/ext', network_address: 'example.com:80', tags: { proxyLocation: 'out' } });
  });

  it('picks up a connection captured mid-stream (no SYN)', async () => {
    const f = new Flow(['10.0.0.2', 50003], ['10.0.0.1', 8080]).handshake();
    f.c(req1);
    f.s(res1);
    const { records } = await readCapture(pcapFile(f.pkts.slice(3)));
    expect(records.map((r) => r.location)).toEqual(['/a']);
  });

  it('skips and counts truncated packets, malformed HTTP and garbage, and still parses the rest', async () => {
    const bad = new Flow(['10.0.0.2', 50004], ['10.0.0.1', 8080]).handshake();
    bad.c('GARBAGE\x00\x01\x02 not http at all\r\n\r\n');
    bad.close();
    const good = new Flow(['10.0.0.2', 50005], ['10.0.0.1', 8080], bad.t + 5).handshake();
    good.c('GET /bad HTTP/1.1\r\nHost: x\r\n\r\nNOT A REQUEST LINE\r\n\r\n' + req1);
    good.s(res1 + res1);
    good.close();
    const file = pcapFile([...bad.pkts, ...good.pkts]);
    // a last packet whose record header promises more bytes than the file has
    const truncated = Buffer.concat([file, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 200, 0, 0, 0, 1, 2, 3])]);
    const { records, events } = await readCapture(truncated);
    expect(records.map((r) => r.location)).toEqual(['/bad', '/a']);
    expect(await events('truncated_packet')).toBe(1);
    expect(await events('malformed_http')).toBeGreaterThanOrEqual(1);
    expect(await events('unrecognized_protocol')).toBe(1);

    const garbage = await readCapture(Buffer.from('this is not a capture file at all'));
    expect(garbage.records).toHaveLength(0);
    expect(await garbage.events('garbage_capture_file')).toBe(1);
  });
});
