// Content encodings of confighttp's compression_algorithms beyond gzip/deflate: zstd (bodies made
// by the zstd CLI, a real encoder like the Collector's klauspost writer), snappy (block format from
// snappyjs.compress, as golang/snappy's Encode; framed as confighttp.framedSnappy sends it), zlib
// (node's deflate, the zlib format Go's zlib.Writer makes). Each is delivered record for record, a
// bomb stops at max_request_body_size with 413, corrupt data gets 400, and an encoding left out of
// compression_algorithms gets 415.
import { execFileSync } from 'node:child_process';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import snappy from 'snappyjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecord } from '../../src/core/record.js';
import { loadConfig } from '../../src/config/load.js';
import { builtinRegistry } from '../../src/components.js';
import { crc32c } from '../../src/helpers/crc32c.js';
import { maskedCrc32c } from '../../src/receivers/otlp/decompress.js';
import { recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { decodeStatusMessage, encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import { post } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { freePort } from '../support/index.js';
import { SAMPLES } from './support.js';

const PROTO = { 'content-type': 'application/x-protobuf' };
const REFUSED = 'rrpipe_otlp_requests_refused_total';
const MiB = 1024 * 1024;
const byUuid = (a: { msgType?: string; uuid?: string }, b: { uuid?: string }) => String(a.uuid).localeCompare(String(b.uuid));

/** The zstd CLI's output for `input` (from stdin: a frame with no content size, as a streaming writer makes). */
function zstdCli(input: Buffer, args: string[] = []): Buffer {
  return execFileSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 256 * MiB });
}

/** The snappy framed format (framing_format.txt): stream identifier, then chunks of at most 64 KiB, compressed when that is smaller. */
function snappyFramed(input: Buffer, extra: Buffer[] = []): Buffer {
  const parts = [Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]), ...extra];
  for (let at = 0; at < input.length; at += 65536) {
    const raw = input.subarray(at, at + 65536);
    const packed = Buffer.from(snappy.compress(raw));
    const [type, data] = packed.length < raw.length ? [0x00, packed] : [0x01, raw];
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUIntLE(data.length + 4, 1, 3);
    head.writeUInt32LE(maskedCrc32c(raw), 4);
    parts.push(head, data);
  }
  return Buffer.concat(parts);
}

// The zstd CLI comes from .ci/setup.d/otlp.sh (Debian's zstd); without it these tests fail, not skip.
describe('otlp receiver over HTTP: zstd, snappy, x-snappy-framed and zlib bodies', () => {
  let svc: Running;
  let port: number;
  const samples = () => SAMPLES.slice(0, 6).map((rr) => structuredClone(rr));
  const body = () => Buffer.from(encodeLogsRequest(recordsToOtlpJson(samples().map((rr) => newRecord(rr)))));
  const refused = (reason: string) => counterValue(svc.service, REFUSED, { transport: 'http', reason });

  beforeAll(async () => {
    port = await freePort();
    svc = await startService({ http: `endpoint: "127.0.0.1:${port}", max_request_body_size: 1MiB` });
  });
  afterAll(async () => svc?.stop());

  /** Sends `encoded` as `ce` and checks every sample arrives equal to what was sent. */
  async function delivers(ce: string, encoded: Buffer): Promise<void> {
    const before = svc.sink.records.length;
    const r = await post(port, '/v1/logs', encoded, { ...PROTO, 'content-encoding': ce });
    expect(r.status, r.body.toString()).toBe(200);
    const n = samples().length;
    await svc.sink.waitFor(before + n);
    const got = svc.sink.records.slice(before).map((x) => x.rrpair).sort(byUuid);
    expect(got).toEqual(samples().sort(byUuid));
  }

  it('crc32c is CRC-32C (the check value of "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('zstd from the zstd CLI: streamed (no content size), with content size, two frames, and a 128 MiB window (--long=27) are delivered record for record', async () => {
    const b = body();
    await delivers('zstd', zstdCli(b));
    await delivers('zstd', zstdCli(b, ['--content-size', '--no-check']));
    const half = b.length >> 1;
    // Two frames split inside a protobuf field: the receiver decodes the concatenation.
    await delivers('zstd', Buffer.concat([zstdCli(b.subarray(0, half), ['-19']), zstdCli(b.subarray(half))]));
    const long = zstdCli(b, ['--long=27']);
    expect(long[5]! >> 3).toBeGreaterThanOrEqual(17); // the frame declares a window of at least 128 MiB (over the 1 MiB limit)
    await delivers('zstd', long);
  });

  it('snappy: the block format (snappyjs.compress, as golang/snappy Encode) and, under the same name, the framed format older Collectors sent', async () => {
    await delivers('snappy', Buffer.from(snappy.compress(body())));
    await delivers('snappy', snappyFramed(body()));
  });

  it('x-snappy-framed: chunks, with padding and a skippable chunk among them, are delivered', async () => {
    const padding = Buffer.from([0xfe, 0x03, 0x00, 0x00, 0, 0, 0]);
    const skippable = Buffer.from([0x80, 0x02, 0x00, 0x00, 1, 2]);
    const encode = (n: number) => Buffer.from(encodeLogsRequest(recordsToOtlpJson(SAMPLES.slice(0, n).map((rr) => newRecord(structuredClone(rr))))));
    let n = 1;
    while (encode(n).length <= 65536) n++;
    const big = encode(n);
    expect(big.length).toBeLessThan(MiB); // more than one chunk, under the limit
    const before = svc.sink.records.length;
    const r = await post(port, '/v1/logs', snappyFramed(big, [padding, skippable]), { ...PROTO, 'content-encoding': 'x-snappy-framed' });
    expect(r.status, r.body.toString()).toBe(200);
    await svc.sink.waitFor(before + n);
    expect(svc.sink.records.slice(before).map((x) => x.rrpair).sort(byUuid)).toEqual(SAMPLES.slice(0, n).map((rr) => structuredClone(rr)).sort(byUuid));
    await delivers('x-snappy-framed', snappyFramed(body()));
  });

  it('zlib (and deflate, unchanged): the zlib format as Go\'s zlib.Writer makes it; raw deflate is refused as Go\'s zlib reader refuses it', async () => {
    await delivers('zlib', deflateSync(body()));
    await delivers('deflate', deflateSync(body()));
    await delivers('gzip', gzipSync(body()));
    const r = await post(port, '/v1/logs', deflateRawSync(body()), { ...PROTO, 'content-encoding': 'zlib' });
    expect(r.status).toBe(400);
    expect(decodeStatusMessage(r.body)).toMatch(/cannot decompress the body \(zlib\)/);
  });

  it('a bomb of each (under the limit compressed, 16 or 64 MiB decoded) → 413 at max_request_body_size, counted as too_large', async () => {
    const zeros = Buffer.alloc(64 * MiB);
    const bombs: [string, Buffer][] = [
      ['zstd', zstdCli(zeros)], // no content size: cut while streaming
      ['zstd', zstdCli(zeros, ['--content-size'])], // declares 64 MiB: refused before decoding
      ['snappy', Buffer.from(snappy.compress(zeros.subarray(0, 16 * MiB)))], // declares 16 MiB: refused before decoding (snappy packs zeros only ~21:1)
      ['snappy', snappyFramed(zeros.subarray(0, 16 * MiB))],
      ['x-snappy-framed', snappyFramed(zeros.subarray(0, 16 * MiB))],
      ['zlib', deflateSync(zeros, { level: 9 })],
    ];
    for (const [ce, bomb] of bombs) {
      expect(bomb.length).toBeLessThan(MiB);
      const before = await refused('too_large');
      const r = await post(port, '/v1/logs', bomb, { ...PROTO, 'content-encoding': ce });
      expect(r.status, ce).toBe(413);
      expect(decodeStatusMessage(r.body)).toMatch(/max_request_body_size \(1048576 bytes after decompression\)/);
      expect(await refused('too_large')).toBe(before + 1);
    }
    await delivers('zstd', zstdCli(body())); // and the receiver keeps serving
  });

  it('corrupt bodies → 400 naming the encoding, counted as bad_compression; the receiver keeps serving', async () => {
    const b = body();
    const z = zstdCli(b);
    // A flipped byte in the middle: inside a literal it may still decode (and parse as protobuf,
    // with a string changed); the content checksum catches it, as klauspost's decoder does.
    const zBad = Buffer.from(z);
    zBad[zBad.length >> 1]! ^= 0xff;
    const zTrunc = z.subarray(0, z.length - 10);
    const s = Buffer.from(snappy.compress(b));
    const sShort = Buffer.from(s);
    sShort[0] = (sShort[0]! & 0x80) | ((sShort[0]! + 1) & 0x7f); // declares a different length than the data fills
    // A block that declares 10 bytes but copies 64 bytes 1000 times: refused, not decoded into the void.
    const sLies = Buffer.concat([Buffer.from([10, 0x00, 0x61]), Buffer.alloc(3000, 0).fill(Buffer.from([0xfe, 0x01, 0x00]))]);
    const framed = snappyFramed(b);
    const framedBadCrc = Buffer.from(framed);
    framedBadCrc[14]! ^= 0xff; // the first chunk's checksum
    const reserved = Buffer.concat([snappyFramed(Buffer.alloc(0)), Buffer.from([0x02, 0x01, 0x00, 0x00, 0x00])]);
    const cases: [string, Buffer][] = [
      ['zstd', Buffer.from('not zstd at all')],
      ['zstd', zBad],
      ['zstd', zTrunc],
      ['snappy', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
      ['snappy', sShort],
      ['snappy', sLies],
      ['snappy', s.subarray(0, s.length - 5)],
      ['x-snappy-framed', b],
      ['x-snappy-framed', framedBadCrc],
      ['x-snappy-framed', reserved],
      ['zlib', Buffer.from('not zlib')],
    ];
    for (const [ce, data] of cases) {
      const before = await refused('bad_compression');
      const r = await post(port, '/v1/logs', data, { ...PROTO, 'content-encoding': ce });
      expect(r.status, `${ce} ${data.subarray(0, 8).toString('hex')}`).toBe(400);
      expect(decodeStatusMessage(r.body)).toMatch(new RegExp(`cannot decompress the body \\(${ce}\\)`));
      expect(await refused('bad_compression')).toBe(before + 1);
    }
    await delivers('zstd', zstdCli(b));
  });

  it('lz4, listed by the Collector but not decoded here, → 415 saying so', async () => {
    const r = await post(port, '/v1/logs', Buffer.from('x'), { ...PROTO, 'content-encoding': 'lz4' });
    expect(r.status).toBe(415);
    expect(decodeStatusMessage(r.body)).toMatch(/"lz4".*does not decode lz4/);
  });
});

describe('otlp receiver over HTTP: compression_algorithms', () => {
  let svc: Running | undefined;
  afterAll(async () => svc?.stop());

  it('an encoding left out of the list → 415, as is a body without one when "" is left out; listed ones still decode', async () => {
    const port = await freePort();
    svc = await startService({ http: `endpoint: "127.0.0.1:${port}", compression_algorithms: [gzip, snappy]` });
    const b = Buffer.from(encodeLogsRequest(recordsToOtlpJson(SAMPLES.slice(0, 1).map((rr) => newRecord(structuredClone(rr))))));
    for (const [ce, data] of [['zstd', deflateSync(b)], ['zlib', deflateSync(b)], ['deflate', deflateSync(b)], ['', b], ['identity', b]] as const) {
      const r = await post(port, '/v1/logs', data, { ...PROTO, ...(ce ? { 'content-encoding': ce } : {}) });
      expect(r.status, ce).toBe(415);
      expect(decodeStatusMessage(r.body)).toMatch(/compression_algorithms accepts gzip, snappy/);
    }
    expect((await post(port, '/v1/logs', gzipSync(b), { ...PROTO, 'content-encoding': 'gzip' })).status).toBe(200);
    expect((await post(port, '/v1/logs', Buffer.from(snappy.compress(b)), { ...PROTO, 'content-encoding': 'snappy' })).status).toBe(200);
    await svc.sink.waitFor(2);
  });

  it('a name it cannot decode (lz4, or a typo) is a config error naming it', async () => {
    const registry = await builtinRegistry();
    const yaml = (list: string) => [
      'receivers:', '  otlp:', '    protocols:', '      http:', `        compression_algorithms: ${list}`,
      'exporters:', '  debug: {}',
      'service:', '  pipelines:', '    logs: { receivers: [otlp], exporters: [debug] }', '',
    ].join('\n');
    await expect(loadConfig(['c.yaml'], { registry, env: {}, texts: { 'c.yaml': yaml('["", gzip, lz4]') } })).rejects.toThrow(/"lz4" is not an encoding this receiver decodes \(rrpipe has no lz4 decoder/);
    await expect(loadConfig(['c.yaml'], { registry, env: {}, texts: { 'c.yaml': yaml('[gzp]') } })).rejects.toThrow(/"gzp" is not an encoding/);
    const ok = await loadConfig(['c.yaml'], { registry, env: {}, texts: { 'c.yaml': yaml('["", gzip]') } });
    expect(ok).toBeTruthy();
  });
});
