import type { TcpSegment } from './packet.js';

/** What reassembled bytes are given to: one per TCP connection. */
export interface StreamSink {
  data(fromClient: boolean, data: Buffer, tsMs: number): void;
  /** Bytes are missing in this direction (lost or not captured): resynchronise. */
  gap(fromClient: boolean): void;
  /** The connection is over (FIN both ways, RST, idle, or the capture ended). */
  close(tsMs: number): void;
}

export interface ConnInfo {
  client: { addr: string; port: number };
  server: { addr: string; port: number };
  startMs: number;
}

const MAX_PENDING = 4 * 1024 * 1024;

/** seq arithmetic modulo 2^32: negative when a is before b. */
function diff(a: number, b: number): number {
  return (a - b) | 0;
}

class Half {
  next?: number;
  pending = new Map<number, { data: Buffer; ts: number }>();
  pendingBytes = 0;
  finSeq?: number;
  ended = false;
}

class Conn {
  readonly c2s = new Half();
  readonly s2c = new Half();
  lastMs: number;
  sink?: StreamSink;
  closed = false;
  constructor(readonly info: ConnInfo, readonly clientKey: string) {
    this.lastMs = info.startMs;
  }
}

/**
 * TCP reassembly: orders segments by sequence number, drops retransmitted bytes, buffers
 * out-of-order segments (bounded) and reports gaps; a new SYN on a known 4-tuple starts a new
 * connection (port reuse).
 */
export class TcpReassembler {
  private readonly conns = new Map<string, Conn>();
  lastMs = 0;

  constructor(
    private readonly open: (info: ConnInfo) => StreamSink,
    private readonly count: (reason: string, n?: number) => void,
    private readonly guessServerPort: (a: { addr: string; port: number }, b: { addr: string; port: number }, firstPayload: Buffer) => boolean,
    private readonly idleMs = 300_000,
  ) {}

  segment(s: TcpSegment, tsMs: number): void {
    this.lastMs = Math.max(this.lastMs, tsMs);
    const a = `${s.src}|${s.srcPort}`;
    const b = `${s.dst}|${s.dstPort}`;
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    let c = this.conns.get(key);
    if (s.syn && !s.ackFlag) {
      // A new connection (or the reuse of a 4-tuple): the SYN's sender is the client.
      if (c && (c.closed || c.c2s.next === undefined || diff(s.seq + 1, c.c2s.next) !== 0)) {
        this.finish(key, c, tsMs);
        c = undefined;
      }
      if (!c) {
        c = new Conn({ client: { addr: s.src, port: s.srcPort }, server: { addr: s.dst, port: s.dstPort }, startMs: tsMs }, a);
        this.conns.set(key, c);
      }
      c.c2s.next = (s.seq + 1) >>> 0;
      return;
    }
    if (!c) {
      if (s.rst || (s.payload.length === 0 && !s.syn)) return; // nothing to learn from a lone ACK/RST
      // Capture started mid-connection: decide which side is the server.
      const src = { addr: s.src, port: s.srcPort };
      const dst = { addr: s.dst, port: s.dstPort };
      const dstIsServer = s.syn ? false : this.guessServerPort(src, dst, s.payload);
      c = dstIsServer ? new Conn({ client: src, server: dst, startMs: tsMs }, a) : new Conn({ client: dst, server: src, startMs: tsMs }, b);
      this.conns.set(key, c);
    }
    c.lastMs = tsMs;
    const fromClient = a === c.clientKey;
    const half = fromClient ? c.c2s : c.s2c;
    if (s.syn) {
      half.next = (s.seq + 1) >>> 0;
      return;
    }
    if (s.rst) {
      this.finish(key, c, tsMs);
      return;
    }
    if (half.next === undefined) half.next = s.seq;
    if (s.payload.length) this.add(c, fromClient, half, s.seq, s.payload, tsMs);
    if (s.truncated) {
      this.count('truncated_packet');
      this.sinkOf(c).gap(fromClient);
    }
    if (s.fin) half.finSeq = (s.seq + s.payload.length) >>> 0;
    if (half.finSeq !== undefined) this.checkEnd(key, c, half);
  }

  private sinkOf(c: Conn): StreamSink {
    if (!c.sink) c.sink = this.open(c.info);
    return c.sink;
  }

  private add(c: Conn, fromClient: boolean, half: Half, seq: number, data: Buffer, ts: number): void {
    const d = diff(seq, half.next!);
    if (d > 0) {
      // Out of order: keep until the hole fills.
      if (!half.pending.has(seq)) {
        half.pending.set(seq, { data: Buffer.from(data), ts });
        half.pendingBytes += data.length;
      }
      if (half.pendingBytes > MAX_PENDING) this.skipGap(c, fromClient, half);
      return;
    }
    if (d + data.length <= 0) {
      this.count('tcp_retransmission');
      return;
    }
    const fresh = d < 0 ? data.subarray(-d) : data;
    if (d < 0) this.count('tcp_retransmission');
    this.deliver(c, fromClient, half, fresh, ts);
    this.drain(c, fromClient, half);
  }

  private deliver(c: Conn, fromClient: boolean, half: Half, data: Buffer, ts: number): void {
    half.next = (half.next! + data.length) >>> 0;
    try {
      this.sinkOf(c).data(fromClient, data, ts);
    } catch {
      this.count('parser_error');
    }
  }

  private drain(c: Conn, fromClient: boolean, half: Half): void {
    let progressed = true;
    while (progressed && half.pending.size) {
      progressed = false;
      for (const [seq, seg] of half.pending) {
        const d = diff(seq, half.next!);
        if (d > 0) continue;
        half.pending.delete(seq);
        half.pendingBytes -= seg.data.length;
        if (d + seg.data.length > 0) this.deliver(c, fromClient, half, d < 0 ? seg.data.subarray(-d) : seg.data, seg.ts);
        else this.count('tcp_retransmission');
        progressed = true;
      }
    }
  }

  /** Give up waiting for a hole: jump to the earliest buffered segment. */
  private skipGap(c: Conn, fromClient: boolean, half: Half): void {
    let first: number | undefined;
    for (const seq of half.pending.keys()) if (first === undefined || diff(seq, first) < 0) first = seq;
    if (first === undefined) return;
    this.count('tcp_gap');
    this.sinkOf(c).gap(fromClient);
    half.next = first;
    this.drain(c, fromClient, half);
  }

  private checkEnd(key: string, c: Conn, half: Half): void {
    if (half.finSeq !== undefined && half.next !== undefined && diff(half.next, half.finSeq) >= 0) half.ended = true;
    if (c.c2s.ended && c.s2c.ended) this.finish(key, c, c.lastMs);
  }

  private finish(key: string, c: Conn, ts: number): void {
    if (c.closed) return;
    for (const [fromClient, half] of [[true, c.c2s], [false, c.s2c]] as const) {
      if (half.pending.size) {
        this.skipGap(c, fromClient, half);
        half.pending.clear();
      }
    }
    c.closed = true;
    if (this.conns.get(key) === c) this.conns.delete(key);
    try {
      c.sink?.close(ts);
    } catch {
      this.count('parser_error');
    }
  }

  /** Close connections idle for longer than the idle timeout (by capture time). */
  expire(): void {
    for (const [key, c] of this.conns) if (this.lastMs - c.lastMs > this.idleMs) this.finish(key, c, c.lastMs);
  }

  /** The capture ended: flush every connection. */
  flush(): void {
    for (const [key, c] of [...this.conns]) this.finish(key, c, this.lastMs);
  }
}
