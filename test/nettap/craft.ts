/** Builds pcap / pcapng files of TCP traffic for parser tests (Ethernet + IPv4 + TCP). */
export interface Pkt {
  ts: number; // ms
  frame: Buffer;
}

function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

export function tcpFrame(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  ip4(src).copy(ip, 12);
  ip4(dst).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([eth, ip, tcp, payload]);
}

export const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01, RST = 0x04;

/** One TCP connection; call c()/s() to produce segments in order, then reorder them as a test needs. */
export class Flow {
  cseq: number;
  sseq: number;
  t: number;
  readonly pkts: Pkt[] = [];
  constructor(readonly client: [string, number], readonly server: [string, number], t0 = 1_700_000_000_000, isn = 1000) {
    this.cseq = isn;
    this.sseq = 5_000_000 + isn;
    this.t = t0;
  }
  private push(fromClient: boolean, flags: number, payload: Buffer = Buffer.alloc(0), seq?: number): Pkt {
    this.t += 1;
    const [a, b] = fromClient ? [this.client, this.server] : [this.server, this.client];
    const p = { ts: this.t, frame: tcpFrame(a[0], b[0], a[1], b[1], seq ?? (fromClient ? this.cseq : this.sseq), fromClient ? this.sseq : this.cseq, flags, payload) };
    this.pkts.push(p);
    return p;
  }
  handshake(): this {
    this.push(true, SYN);
    this.cseq++;
    this.push(false, SYN | ACK);
    this.sseq++;
    this.push(true, ACK);
    return this;
  }
  c(data: string | Buffer): Pkt {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const p = this.push(true, PSH | ACK, b);
    this.cseq += b.length;
    return p;
  }
  s(data: string | Buffer): Pkt {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const p = this.push(false, PSH | ACK, b);
    this.sseq += b.length;
    return p;
  }
  close(): this {
    this.push(true, FIN | ACK);
    this.cseq++;
    this.push(false, FIN | ACK);
    this.sseq++;
    this.push(true, ACK);
    return this;
  }
}

export function pcapFile(pkts: Pkt[], linkType = 1): Buffer {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [hdr];
  for (const p of pkts) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(p.ts / 1000), 0);
    r.writeUInt32LE(Math.round((p.ts % 1000) * 1000), 4);
    r.writeUInt32LE(p.frame.length, 8);
    r.writeUInt32LE(p.frame.length, 12);
    parts.push(r, p.frame);
  }
  return Buffer.concat(parts);
}

export function pcapngFile(pkts: Pkt[], linkType = 1): Buffer {
  const block = (type: number, body: Buffer) => {
    const len = 12 + body.length;
    const b = Buffer.alloc(len);
    b.writeUInt32LE(type, 0);
    b.writeUInt32LE(len, 4);
    body.copy(b, 8);
    b.writeUInt32LE(len, len - 4);
    return b;
  };
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(linkType, 0);
  idb.writeUInt32LE(262144, 4);
  const parts = [block(0x0a0d0d0a, shb), block(1, idb)];
  for (const p of pkts) {
    const pad = (4 - (p.frame.length % 4)) % 4;
    const body = Buffer.alloc(20 + p.frame.length + pad);
    const us = BigInt(Math.round(p.ts * 1000));
    body.writeUInt32LE(0, 0);
    body.writeUInt32LE(Number(us >> 32n), 4);
    body.writeUInt32LE(Number(us & 0xffffffffn), 8);
    body.writeUInt32LE(p.frame.length, 12);
    body.writeUInt32LE(p.frame.length, 16);
    p.frame.copy(body, 20);
    parts.push(block(6, body));
  }
  return Buffer.concat(parts);
}
