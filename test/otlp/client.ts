import * as grpc from '@grpc/grpc-js';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { LOGS_SERVICE_EXPORT_PATH } from '../../src/rrpair/otlp-proto.js';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain POST with Node's http client. */
export function post(port: number, path: string, body: Buffer | string, headers: Record<string, string>, method = 'POST'): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pass = (b: Buffer) => b;

/** A raw gRPC LogsService/Export call with the given request bytes. */
export function grpcExport(port: number, body: Buffer, opts: { metadata?: Record<string, string>; creds?: grpc.ChannelCredentials; options?: grpc.ChannelOptions } = {}): Promise<{ ok: true; body: Buffer } | { ok: false; err: grpc.ServiceError }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, opts.creds ?? grpc.credentials.createInsecure(), opts.options);
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(LOGS_SERVICE_EXPORT_PATH, pass, pass, body, md, { deadline: Date.now() + 15_000 }, (err, res) => {
      client.close();
      resolve(err ? { ok: false, err } : { ok: true, body: res! });
    });
  });
}

/** What a raw connection got back, once the server closed it. */
export interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

/**
 * A POST that declares `declared` bytes and sends `send` of them, then nothing. With
 * `Expect: 100-continue` Node calls the request handler before it answers "100 Continue", so once
 * that arrives the receiver has seen the request (and, before the fix, charged its declared length).
 */
export function stalledUpload(port: number, declared: number | 'chunked', send = 10): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let started = false;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', (err) => (started ? undefined : reject(err)));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (!started && text.includes('100 Continue')) {
        started = true;
        socket.write(declared === 'chunked' ? `${send.toString(16)}\r\n${'x'.repeat(send)}\r\n` : Buffer.alloc(send));
        resolve({ socket, received: () => text, closed });
      }
    });
    const length = declared === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${declared}`;
    socket.write(`POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n${length}\r\nExpect: 100-continue\r\n\r\n`);
  });
}
