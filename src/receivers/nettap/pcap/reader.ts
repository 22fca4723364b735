/**
 * Streaming pcap and pcapng reader, written from the formats' specifications
 * (pcap: tcpdump.org/manpages/pcap-savefile.5; pcapng: IETF draft-ietf-opsawg-pcapng).
 * Bytes go in with push(); packets come out through the callback. Bad or truncated data is
 * counted and skipped, never thrown.
 */
export interface Packet {
  /** Capture time, milliseconds since the epoch (fractional). */
  tsMs: number;
  linkType: number;
  data: Buffer;
  origLen: number;
}

type Count = (reason: string, n?: number) => void;

const MAX_BLOCK = 64 * 1024 * 1024;

export class PcapReader {
  private buf: Buffer = Buffer.alloc(0);
  private format?: 'pcap' | 'pcapng';
  private le = true;
  private nanos = false;
  private linkType = 1;
  private interfaces: { linkType: number; tsDiv: number }[] = [];
  private broken = false;
  packets = 0;

  constructor(private readonly onPacket: (p: Packet) => void, private readonly count: Count) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    try {
      off = this.parse();
    } catch {
      this.count('malformed_capture_file');
      this.broken = true;
    }
    this.buf = this.buf.subarray(off);
  }

  /** The input ended: anything left over is a truncated packet. */
  end(): void {
    if (this.buf.length > 0 && !this.broken) this.count('truncated_packet');
    this.buf = Buffer.alloc(0);
  }

  private u32(b: Buffer, o: number, le = this.le): number {
    return le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
  private u16(b: Buffer, o: number, le = this.le): number {
    return le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  private parse(): number {
    const b = this.buf;
    let off = 0;
    if (!this.format) {
      if (b.length < 4) return 0;
      const m = b.readUInt32LE(0);
      if (m === 0x0a0d0d0a) this.format = 'pcapng';
      else if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) {
        this.format = 'pcap';
        this.le = true;
        this.nanos = m === 0xa1b23c4d;
      } else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) {
        this.format = 'pcap';
        this.le = false;
        this.nanos = m === 0x4d3cb2a1;
      } else {
        this.count('garbage_capture_file');
        this.broken = true;
        return b.length;
      }
      if (this.format === 'pcap') {
        if (b.length < 24) {
          this.format = undefined;
          return 0;
        }
        this.linkType = this.u32(b, 20) & 0x0fffffff;
        off = 24;
      }
    }
    if (this.format === 'pcap') {
      while (b.length - off >= 16) {
        const sec = this.u32(b, off);
        const frac = this.u32(b, off + 4);
        const incl = this.u32(b, off + 8);
        const orig = this.u32(b, off + 12);
        if (incl > MAX_BLOCK) {
          this.count('malformed_capture_file');
          this.broken = true;
          return b.length;
        }
        if (b.length - off - 16 < incl) break;
        const data = b.subarray(off + 16, off + 16 + incl);
        off += 16 + incl;
        this.packets++;
        this.onPacket({ tsMs: sec * 1000 + (this.nanos ? frac / 1e6 : frac / 1e3), linkType: this.linkType, data, origLen: orig });
      }
      return off;
    }
    // pcapng
    while (b.length - off >= 12) {
      const type = this.u32(b, off, true) === 0x0a0d0d0a ? 0x0a0d0d0a : this.u32(b, off);
      if (type === 0x0a0d0d0a) {
        if (b.length - off < 12) break;
        const bom = b.readUInt32LE(off + 8);
        if (bom === 0x1a2b3c4d) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else {
          this.count('malformed_capture_file');
          this.broken = true;
          return b.length;
        }
        this.interfaces = [];
      }
      const len = this.u32(b, off + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        this.count('malformed_capture_file');
        this.broken = true;
        return b.length;
      }
      if (b.length - off < len) break;
      const body = b.subarray(off + 8, off + len - 4);
      off += len;
      if (type === 1) this.interfaceBlock(body);
      else if (type === 6) this.enhancedPacket(body);
      else if (type === 3) this.simplePacket(body);
      else if (type === 2) this.obsoletePacket(body);
      // other blocks (name resolution, statistics, custom) are skipped
    }
    return off;
  }

  private interfaceBlock(body: Buffer): void {
    const linkType = this.u16(body, 0);
    let tsDiv = 1e3; // microseconds per millisecond
    let o = 8;
    while (o + 4 <= body.length) {
      const code = this.u16(body, o);
      const len = this.u16(body, o + 2);
      if (code === 0) break;
      if (code === 9 && len >= 1) {
        const v = body[o + 4]!;
        const unitsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        tsDiv = unitsPerSec / 1000;
      }
      o += 4 + Math.ceil(len / 4) * 4;
    }
    this.interfaces.push({ linkType, tsDiv });
  }

  private enhancedPacket(body: Buffer): void {
    if (body.length < 20) return this.count('truncated_packet');
    const ifc = this.interfaces[this.u32(body, 0)];
    if (!ifc) return this.count('malformed_capture_file');
    const ts = this.u32(body, 4) * 2 ** 32 + this.u32(body, 8);
    const cap = this.u32(body, 12);
    const orig = this.u32(body, 16);
    if (20 + cap > body.length) return this.count('truncated_packet');
    this.packets++;
    this.onPacket({ tsMs: ts / ifc.tsDiv, linkType: ifc.linkType, data: body.subarray(20, 20 + cap), origLen: orig });
  }

  private simplePacket(body: Buffer): void {
    const ifc = this.interfaces[0];
    if (!ifc || body.length < 4) return this.count('malformed_capture_file');
    const orig = this.u32(body, 0);
    const cap = Math.min(orig, body.length - 4);
    this.packets++;
    this.onPacket({ tsMs: Date.now(), linkType: ifc.linkType, data: body.subarray(4, 4 + cap), origLen: orig });
  }

  private obsoletePacket(body: Buffer): void {
    if (body.length < 20) return this.count('truncated_packet');
    const ifc = this.interfaces[this.u16(body, 0)];
    if (!ifc) return this.count('malformed_capture_file');
    const ts = this.u32(body, 4) * 2 ** 32 + this.u32(body, 8);
    const cap = this.u32(body, 12);
    if (20 + cap > body.length) return this.count('truncated_packet');
    this.packets++;
    this.onPacket({ tsMs: ts / ifc.tsDiv, linkType: ifc.linkType, data: body.subarray(20, 20 + cap), origLen: this.u32(body, 16) });
  }
}
