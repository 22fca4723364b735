/** Link, IP and TCP header decoding: from a captured frame to a TCP segment. */
export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  syn: boolean;
  ackFlag: boolean;
  fin: boolean;
  rst: boolean;
  payload: Buffer;
  /** The capture cut the payload short (snaplen). */
  truncated: boolean;
}

export type DecodeResult = TcpSegment | { skip: string };

export function decodeFrame(linkType: number, frame: Buffer): DecodeResult {
  let off: number;
  let proto: number | undefined; // ethertype
  switch (linkType) {
    case 1: {
      // Ethernet, with 802.1Q tags
      if (frame.length < 14) return { skip: 'truncated_packet' };
      off = 12;
      proto = frame.readUInt16BE(off);
      off += 2;
      while ((proto === 0x8100 || proto === 0x88a8) && frame.length >= off + 4) {
        proto = frame.readUInt16BE(off + 2);
        off += 4;
      }
      break;
    }
    case 113: // Linux cooked v1
      if (frame.length < 16) return { skip: 'truncated_packet' };
      proto = frame.readUInt16BE(14);
      off = 16;
      break;
    case 276: // Linux cooked v2
      if (frame.length < 20) return { skip: 'truncated_packet' };
      proto = frame.readUInt16BE(0);
      off = 20;
      break;
    case 0: // BSD loopback, host byte order family
    case 108: {
      if (frame.length < 4) return { skip: 'truncated_packet' };
      const fam = linkType === 0 ? (frame.readUInt32LE(0) > 0xffff ? frame.readUInt32BE(0) : frame.readUInt32LE(0)) : frame.readUInt32BE(0);
      proto = fam === 2 ? 0x0800 : fam === 24 || fam === 28 || fam === 30 ? 0x86dd : -1;
      off = 4;
      break;
    }
    case 101:
    case 12:
    case 14:
    case 228:
    case 229:
      off = 0;
      if (frame.length < 1) return { skip: 'truncated_packet' };
      proto = frame[0]! >> 4 === 6 ? 0x86dd : 0x0800;
      break;
    default:
      return { skip: 'unsupported_link_type' };
  }
  if (proto === 0x0800) return ipv4(frame, off);
  if (proto === 0x86dd) return ipv6(frame, off);
  return { skip: 'not_ip' };
}

function ipv4(b: Buffer, off: number): DecodeResult {
  if (b.length < off + 20) return { skip: 'truncated_packet' };
  const ihl = (b[off]! & 0x0f) * 4;
  if (b[off]! >> 4 !== 4 || ihl < 20) return { skip: 'malformed_packet' };
  const total = b.readUInt16BE(off + 2);
  const frag = b.readUInt16BE(off + 6);
  if ((frag & 0x1fff) !== 0 || frag & 0x2000) return { skip: 'ip_fragment' };
  if (b[off + 9] !== 6) return { skip: 'not_tcp' };
  const src = `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const dst = `${b[off + 16]}.${b[off + 17]}.${b[off + 18]}.${b[off + 19]}`;
  // total may be 0 with TSO offload; then use what was captured
  const end = total >= ihl ? off + total : b.length;
  return tcp(b, off + ihl, end, src, dst);
}

function ipv6(b: Buffer, off: number): DecodeResult {
  if (b.length < off + 40) return { skip: 'truncated_packet' };
  const plen = b.readUInt16BE(off + 4);
  let next = b[off + 6]!;
  const src = v6(b.subarray(off + 8, off + 24));
  const dst = v6(b.subarray(off + 24, off + 40));
  let o = off + 40;
  const end = plen ? off + 40 + plen : b.length;
  while (next === 0 || next === 43 || next === 60) {
    if (b.length < o + 8) return { skip: 'truncated_packet' };
    next = b[o]!;
    o += (b[o + 1]! + 1) * 8;
  }
  if (next === 44) return { skip: 'ip_fragment' };
  if (next !== 6) return { skip: 'not_tcp' };
  return tcp(b, o, end, src, dst);
}

function v6(a: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(a.readUInt16BE(i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

function tcp(b: Buffer, off: number, ipEnd: number, src: string, dst: string): DecodeResult {
  if (b.length < off + 20) return { skip: 'truncated_packet' };
  const doff = (b[off + 12]! >> 4) * 4;
  if (doff < 20) return { skip: 'malformed_packet' };
  const flags = b[off + 13]!;
  const start = off + doff;
  const end = Math.min(ipEnd, b.length);
  return {
    src,
    dst,
    srcPort: b.readUInt16BE(off),
    dstPort: b.readUInt16BE(off + 2),
    seq: b.readUInt32BE(off + 4),
    ack: b.readUInt32BE(off + 8),
    fin: (flags & 0x01) !== 0,
    syn: (flags & 0x02) !== 0,
    rst: (flags & 0x04) !== 0,
    ackFlag: (flags & 0x10) !== 0,
    payload: start < end ? b.subarray(start, end) : Buffer.alloc(0),
    truncated: ipEnd > b.length,
  };
}
