import { BodyTap } from '../body.js';
import { headersFromRaw, headerValue, type CapturedBody, type HttpCapture } from '../rrpair.js';
import type { ConnInfo, StreamSink } from './tcp.js';

/** One parsed HTTP/1.x message head. */
interface Head {
  startLine: string[];
  rawHeaders: string[];
  version: string;
}

interface Message {
  head: Head;
  body: CapturedBody;
  startMs: number;
  endMs: number;
}

const MAX_HEAD = 64 * 1024;
const REQUEST_LINE = /^([A-Z][A-Z0-9_-]{0,19}) (\S+) HTTP\/(\d)\.(\d)$/;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;

/**
 * Incremental HTTP/1.x parser for one direction of a connection: heads, Content-Length,
 * chunked and read-until-close bodies. Malformed input is counted and the parser
 * resynchronises on the next message start.
 */
class Http1Direction {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'dead' = 'head';
  private remaining = 0;
  private cur?: { head: Head; tap: BodyTap; startMs: number; enc?: string };

  constructor(
    private readonly isRequest: boolean,
    private readonly maxBody: number,
    /** For responses: whether the next response has a body (HEAD and 1xx/204/304 have none). */
    private readonly bodyless: (status: number) => boolean,
    private readonly onMessage: (m: Message) => void,
    private readonly count: (reason: string) => void,
  ) {}

  push(data: Buffer, ts: number): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let guard = 0;
    while (this.buf.length > 0 && this.state !== 'dead' && guard++ < 100000) {
      if (!this.step(ts)) break;
    }
  }

  /** Bytes were lost: drop the message in progress and look for the next one. */
  gap(): void {
    if (this.cur) this.count('http_message_lost_to_gap');
    this.cur = undefined;
    this.buf = Buffer.alloc(0);
    this.state = 'head';
    this.resyncing = true;
  }

  private resyncing = false;

  /** The direction ended: a read-until-close body is complete. */
  end(ts: number): void {
    if (this.cur && this.state === 'close') this.emit(ts);
    else if (this.cur) this.count('http_incomplete_message');
  }

  stop(): void {
    this.state = 'dead';
    this.buf = Buffer.alloc(0);
  }

  private emit(ts: number): void {
    const c = this.cur!;
    this.cur = undefined;
    this.state = 'head';
    this.onMessage({ head: c.head, body: c.tap.finish(c.enc), startMs: c.startMs, endMs: ts });
  }

  private step(ts: number): boolean {
    switch (this.state) {
      case 'head': {
        if (this.resyncing || !this.looksLikeStart()) {
          const at = this.findStart();
          if (at < 0) {
            if (!this.resyncing) this.count('malformed_http');
            this.resyncing = true;
            this.buf = this.buf.subarray(Math.max(0, this.buf.length - 16));
            return false;
          }
          if (at > 0 && !this.resyncing) this.count('malformed_http');
          this.resyncing = false;
          this.buf = this.buf.subarray(at);
        }
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > MAX_HEAD) {
            this.count('malformed_http');
            this.buf = Buffer.alloc(0);
            this.resyncing = true;
          }
          return false;
        }
        const text = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
        const lines = text.split('\r\n');
        const m = (this.isRequest ? REQUEST_LINE : STATUS_LINE).exec(lines[0]!);
        if (!m) {
          this.count('malformed_http');
          return true;
        }
        const raw: string[] = [];
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i <= 0) continue;
          raw.push(l.slice(0, i).trim(), l.slice(i + 1).trim());
        }
        const version = this.isRequest ? `${m[3]}.${m[4]}` : `${m[1]}.${m[2]}`;
        const head: Head = { startLine: this.isRequest ? [m[1]!, m[2]!] : [m[3]!, m[4] ?? ''], rawHeaders: raw, version };
        const h = headersFromRaw(raw);
        const te = (headerValue(h, 'transfer-encoding') ?? '').toLowerCase();
        const cl = headerValue(h, 'content-length');
        this.cur = { head, tap: new BodyTap(this.maxBody), startMs: ts, ...(headerValue(h, 'content-encoding') ? { enc: headerValue(h, 'content-encoding')! } : {}) };
        if (!this.isRequest && this.bodyless(Number(m[3]))) {
          this.emit(ts);
        } else if (te.includes('chunked')) {
          this.state = 'chunk-size';
        } else if (cl !== undefined && /^\d+$/.test(cl)) {
          this.remaining = Number(cl);
          if (this.remaining === 0) this.emit(ts);
          else this.state = 'length';
        } else if (this.isRequest) {
          this.emit(ts);
        } else {
          this.state = 'close';
        }
        return true;
      }
      case 'length': {
        const take = Math.min(this.remaining, this.buf.length);
        this.cur!.tap.write(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.emit(ts);
        return true;
      }
      case 'close':
        this.cur!.tap.write(this.buf);
        this.buf = Buffer.alloc(0);
        return false;
      case 'chunk-size': {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) {
          if (this.buf.length > 1024) this.bad();
          return false;
        }
        const size = parseInt(this.buf.subarray(0, nl).toString('latin1').split(';')[0]!.trim(), 16);
        this.buf = this.buf.subarray(nl + 2);
        if (!Number.isFinite(size) || size < 0) {
          this.bad();
          return true;
        }
        if (size === 0) this.state = 'trailers';
        else {
          this.remaining = size;
          this.state = 'chunk-data';
        }
        return true;
      }
      case 'chunk-data': {
        const take = Math.min(this.remaining, this.buf.length);
        this.cur!.tap.write(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'chunk-crlf';
        return true;
      }
      case 'chunk-crlf':
        if (this.buf.length < 2) return false;
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
        return true;
      case 'trailers': {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) return false;
        this.buf = this.buf.subarray(nl + 2);
        if (nl === 0) this.emit(ts);
        return true;
      }
      default:
        return false;
    }
  }

  private bad(): void {
    this.count('malformed_http');
    this.cur = undefined;
    this.state = 'head';
    this.resyncing = true;
  }

  private looksLikeStart(): boolean {
    const s = this.buf.subarray(0, 24).toString('latin1');
    return this.isRequest ? /^[A-Z][A-Z0-9_-]{0,19} /.test(s) || (s.length < 4 && /^[A-Z]*$/.test(s)) : s.startsWith('HTTP/') || 'HTTP/'.startsWith(s);
  }

  private findStart(): number {
    const s = this.buf.toString('latin1');
    const re = this.isRequest ? /(^|\r\n)(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|CONNECT|TRACE) \S+ HTTP\/1\.[01]\r\n/ : /(^|\r\n)HTTP\/1\.[01] \d{3}/;
    const m = re.exec(s);
    return m ? m.index + m[1]!.length : -1;
  }
}

/** Pairs requests with responses on one connection, in order (pipelining included). */
export class HttpConnParser implements StreamSink {
  private readonly req: Http1Direction;
  private readonly res: Http1Direction;
  private readonly waiting: Message[] = [];
  private upgraded = false;

  constructor(
    private readonly info: ConnInfo,
    maxBody: number,
    private readonly direction: 'IN' | 'OUT',
    private readonly emitCapture: (c: HttpCapture) => void,
    private readonly count: (reason: string) => void,
    private readonly tags: Record<string, string>,
  ) {
    this.req = new Http1Direction(true, maxBody, () => false, (m) => this.waiting.push(m), count);
    this.res = new Http1Direction(false, maxBody, (status) => this.bodyless(status), (m) => this.response(m), count);
  }

  private bodyless(status: number): boolean {
    if (status < 200 || status === 204 || status === 304) return true;
    return this.waiting[0]?.head.startLine[0] === 'HEAD';
  }

  private response(m: Message): void {
    const status = Number(m.head.startLine[0]);
    if (status >= 100 && status < 200 && status !== 101) return; // interim (100 Continue)
    const req = this.waiting.shift();
    if (!req) {
      this.count('http_response_without_request');
      return;
    }
    if (status === 101) {
      this.upgraded = true;
      this.req.stop();
      this.res.stop();
    }
    const reqHeaders = headersFromRaw(req.head.rawHeaders);
    const host = headerValue(reqHeaders, 'host') ?? this.info.server.addr;
    this.emitCapture({
      startMs: req.startMs,
      endMs: m.endMs,
      direction: this.direction,
      tls: false,
      version: req.head.version,
      method: req.head.startLine[0]!,
      target: req.head.startLine[1]!,
      host,
      reqHeaders,
      reqBody: req.body,
      statusCode: status,
      statusMessage: m.head.startLine[1] ?? '',
      resHeaders: headersFromRaw(m.head.rawHeaders),
      resBody: m.body,
      net: { clientAddr: this.info.client.addr, clientPort: this.info.client.port, serverAddr: this.info.server.addr, serverPort: this.info.server.port, hostname: host.replace(/:\d+$/, ''), reqBytes: req.body.wireBytes, resBytes: m.body.wireBytes },
      tags: this.tags,
    });
  }

  data(fromClient: boolean, data: Buffer, ts: number): void {
    if (this.upgraded) return;
    (fromClient ? this.req : this.res).push(data, ts);
  }

  gap(fromClient: boolean): void {
    if (fromClient) this.req.gap();
    else {
      this.res.gap();
      // the response that was cut cannot be paired reliably any more
      if (this.waiting.length) {
        this.waiting.shift();
        this.count('http_message_lost_to_gap');
      }
    }
  }

  close(ts: number): void {
    this.res.end(ts);
    this.req.end(ts);
    if (this.waiting.length) this.count('http_request_without_response');
  }
}
