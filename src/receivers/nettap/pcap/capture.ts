import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { buildHttpPair, type Identity } from '../rrpair.js';
import type { RRPair } from '../../../rrpair/types.js';
import { HttpConnParser } from './http.js';
import { decodeFrame } from './packet.js';
import { looksLikePgStartup, PostgresConnParser } from './postgres.js';
import { PcapReader } from './reader.js';
import { TcpReassembler, type ConnInfo, type StreamSink } from './tcp.js';

export interface PcapOptions {
  bpf_filter: string;
  tcpdump_path: string;
  snaplen: number;
  local_ports: number[];
  local_addresses: string[];
  postgres_ports: number[];
  idle_timeout: number;
  maxBody: number;
  tags: Record<string, string>;
}

const HTTP_START = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|TRACE|CONNECT|PROPFIND|[A-Z]{3,10}) \S+ HTTP\/1\.[01]\r?\n/;

/** Decides a connection's protocol from its first bytes, then hands everything to that parser. */
class Detector implements StreamSink {
  private inner?: StreamSink;
  private ignored = false;
  private held: [boolean, Buffer, number][] = [];

  constructor(private readonly info: ConnInfo, private readonly cap: PcapCapture) {}

  data(fromClient: boolean, data: Buffer, ts: number): void {
    if (this.ignored) return;
    if (this.inner) return this.inner.data(fromClient, data, ts);
    this.held.push([fromClient, data, ts]);
    const first = Buffer.concat(this.held.filter((h) => h[0]).map((h) => h[1]));
    if (first.length === 0) {
      if (this.held.length > 64) this.giveUp();
      return;
    }
    const head = first.subarray(0, 2048).toString('latin1');
    if (HTTP_START.test(head)) this.inner = this.cap.httpParser(this.info);
    else if (looksLikePgStartup(first)) this.inner = this.cap.pgParser(this.info, false);
    else if (this.cap.opts.postgres_ports.includes(this.info.server.port)) this.inner = this.cap.pgParser(this.info, true);
    else if (!head.includes('\n') && first.length < 2048 && /^[A-Z]{1,10}($| \S*( H?T?T?P?\/?1?\.?[01]?\r?)?$)/.test(head)) return; // a request line split across segments: wait
    else if (first.length < 8 && this.held.length < 8) return; // too little to tell
    else return this.giveUp();
    const held = this.held;
    this.held = [];
    for (const [c, d, t] of held) this.inner.data(c, d, t);
  }

  private giveUp(): void {
    this.ignored = true;
    this.held = [];
    this.cap.count('unrecognized_protocol');
  }

  gap(fromClient: boolean): void {
    this.inner?.gap(fromClient);
  }

  close(ts: number): void {
    this.inner?.close(ts);
  }
}

/** Passive capture: pcap/pcapng bytes → packets → TCP streams → HTTP/1.x and Postgres RRPairs. */
export class PcapCapture {
  private readonly tcp: TcpReassembler;
  private readonly reader: PcapReader;
  private readonly hostAddrs: Set<string>;
  private child?: ChildProcess;
  private sinceExpire = 0;
  records = 0;

  constructor(
    readonly opts: PcapOptions,
    private readonly id: Identity,
    private readonly emitRR: (rr: RRPair) => void,
    readonly count: (reason: string, n?: number) => void,
    private readonly logger: Logger,
  ) {
    this.hostAddrs = new Set(Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)));
    this.tcp = new TcpReassembler((info) => new Detector(info, this), count, (a, b, payload) => this.dstIsServer(a, b, payload), opts.idle_timeout);
    this.reader = new PcapReader((p) => {
      const seg = decodeFrame(p.linkType, p.data);
      if ('skip' in seg) {
        if (seg.skip !== 'not_tcp' && seg.skip !== 'not_ip') this.count(seg.skip);
        return;
      }
      this.tcp.segment(seg, p.tsMs);
      if (++this.sinceExpire >= 1000) {
        this.sinceExpire = 0;
        this.tcp.expire();
      }
    }, count);
  }

  private emit(rr: RRPair): void {
    this.records++;
    this.emitRR(rr);
  }

  /** With no SYN seen: is `b` the server? Configured ports first, then the payload, then the lower port. */
  private dstIsServer(a: { addr: string; port: number }, b: { addr: string; port: number }, payload: Buffer): boolean {
    const known = [...this.opts.local_ports, ...this.opts.postgres_ports];
    if (known.includes(b.port) && !known.includes(a.port)) return true;
    if (known.includes(a.port) && !known.includes(b.port)) return false;
    const head = payload.subarray(0, 16).toString('latin1');
    if (HTTP_START.test(payload.subarray(0, 2048).toString('latin1')) || looksLikePgStartup(payload)) return true;
    if (head.startsWith('HTTP/1.')) return false;
    return b.port < a.port;
  }

  direction(info: ConnInfo): 'IN' | 'OUT' {
    const { local_ports: ports, local_addresses: addrs } = this.opts;
    if (ports.length || addrs.length) {
      const portOk = ports.length === 0 || ports.includes(info.server.port);
      const addrOk = addrs.length === 0 || addrs.includes(info.server.addr);
      return portOk && addrOk ? 'IN' : 'OUT';
    }
    return this.hostAddrs.has(info.server.addr) ? 'IN' : 'OUT';
  }

  httpParser(info: ConnInfo): StreamSink {
    const dir = this.direction(info);
    return new HttpConnParser(info, this.opts.maxBody, dir, (c) => this.emit(buildHttpPair(c, this.id)), (r) => this.count(r), { ...this.opts.tags, proxyLocation: dir === 'IN' ? 'in' : 'out' });
  }

  pgParser(info: ConnInfo, midStream: boolean): StreamSink {
    const dir = this.direction(info);
    return new PostgresConnParser(info, this.opts.maxBody, dir, this.id, (rr) => this.emit(rr), (r) => this.count(r), { ...this.opts.tags, proxyLocation: dir === 'IN' ? 'in' : 'out' }, midStream);
  }

  /** Feed capture-file bytes (pcap or pcapng). */
  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  /** The input ended: flush open connections. */
  end(): void {
    this.reader.end();
    this.tcp.flush();
  }

  async readFile(path: string): Promise<void> {
    const s = createReadStream(path, { highWaterMark: 1 << 20 });
    for await (const chunk of s) this.push(chunk as Buffer);
    this.end();
  }

  /** Start tcpdump on `iface`; resolves once it is capturing, with a promise of its end. */
  startLive(iface: string): Promise<{ ended: Promise<void> }> {
    const args = ['-i', iface, '-U', '-n', '--immediate-mode', ...(process.getuid?.() === 0 ? ['-Z', 'root'] : []), '-s', String(this.opts.snaplen), '-w', '-', ...(this.opts.bpf_filter ? [this.opts.bpf_filter] : [])];
    const child = spawn(this.opts.tcpdump_path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => this.push(c));
    let stderr = '';
    const finished = new Promise<void>((resolve, reject) => {
      child.on('close', (code, signal) => {
        this.end();
        if (code === 0 || signal === 'SIGTERM' || signal === 'SIGINT' || this.stopping) resolve();
        else reject(new Error(`tcpdump exited with ${code ?? signal}: ${stderr.trim().slice(-500)}`));
      });
    });
    return new Promise((resolve, reject) => {
      child.on('error', (err) => reject(new Error(`cannot run ${this.opts.tcpdump_path}: ${err.message}`)));
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('listening on')) {
          this.logger.info({ iface, filter: this.opts.bpf_filter }, 'nettap: live capture started');
          resolve({ ended: finished });
        }
      });
      finished.catch(reject);
    });
  }

  private stopping = false;

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.stopping = true;
    await new Promise<void>((r) => {
      c.once('close', () => r());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 3000).unref();
    });
  }
}
