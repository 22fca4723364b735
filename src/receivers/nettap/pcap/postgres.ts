import { newUuid, netinfo, rfc3339, type Identity } from '../rrpair.js';
import type { RRPair } from '../../../rrpair/types.js';
import type { ConnInfo, StreamSink } from './tcp.js';

/**
 * PostgreSQL frontend/backend protocol v3 (postgresql.org/docs/current/protocol-message-formats.html):
 * startup, simple query, extended query (Parse/Bind/Describe/Execute/Sync), and the server's answers.
 * Each client exchange that the server closes with ReadyForQuery becomes one RRPair.
 */
export type PgMessage = { type: string; [k: string]: unknown };

interface Exchange {
  kind: 'startup' | 'query' | 'extended' | 'function' | 'other';
  startMs: number;
  req: PgMessage[];
  res: PgMessage[];
  resBytes: number;
  reqBytes: number;
  truncated: boolean;
}

const CLIENT_TYPES: Record<string, string> = {
  Q: 'Query', P: 'Parse', B: 'Bind', D: 'Describe', E: 'Execute', S: 'Sync', H: 'Flush', C: 'Close',
  F: 'FunctionCall', X: 'Terminate', p: 'PasswordMessage', d: 'CopyData', c: 'CopyDone', f: 'CopyFail',
};
const SERVER_TYPES: Record<string, string> = {
  R: 'Authentication', S: 'ParameterStatus', K: 'BackendKeyData', Z: 'ReadyForQuery', T: 'RowDescription',
  D: 'DataRow', C: 'CommandComplete', E: 'ErrorResponse', N: 'NoticeResponse', '1': 'ParseComplete',
  '2': 'BindComplete', '3': 'CloseComplete', n: 'NoData', t: 'ParameterDescription', s: 'PortalSuspended',
  I: 'EmptyQueryResponse', A: 'NotificationResponse', G: 'CopyInResponse', H: 'CopyOutResponse',
  W: 'CopyBothResponse', d: 'CopyData', c: 'CopyDone', V: 'FunctionCallResponse', v: 'NegotiateProtocolVersion',
};

class Reader {
  o = 0;
  constructor(readonly b: Buffer) {}
  cstr(): string {
    const e = this.b.indexOf(0, this.o);
    const end = e < 0 ? this.b.length : e;
    const s = this.b.subarray(this.o, end).toString('utf8');
    this.o = end + 1;
    return s;
  }
  i16(): number {
    const v = this.b.readInt16BE(this.o);
    this.o += 2;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32BE(this.o);
    this.o += 4;
    return v;
  }
  bytes(n: number): Buffer {
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
}

function value(b: Buffer): string | { base64: string } {
  const s = b.toString('utf8');
  // text-format values are valid UTF-8 without control characters; anything else is binary
  return /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(s) ? { base64: b.toString('base64') } : s;
}

export class PostgresConnParser implements StreamSink {
  private cbuf: Buffer = Buffer.alloc(0);
  private sbuf: Buffer = Buffer.alloc(0);
  private startupDone: boolean;
  private expectSslAnswer = false;
  private dead = false;
  private readonly exchanges: Exchange[] = [];
  private building?: Exchange;
  private readonly statements = new Map<string, string>();
  private user = '';
  private database = '';
  private budget: number;

  constructor(
    private readonly info: ConnInfo,
    private readonly maxBody: number,
    private readonly direction: 'IN' | 'OUT',
    private readonly id: Identity,
    private readonly emit: (rr: RRPair) => void,
    private readonly count: (reason: string) => void,
    private readonly tags: Record<string, string>,
    midStream: boolean,
  ) {
    this.startupDone = midStream;
    this.budget = maxBody;
  }

  data(fromClient: boolean, data: Buffer, ts: number): void {
    if (this.dead) return;
    try {
      if (fromClient) {
        this.cbuf = this.cbuf.length ? Buffer.concat([this.cbuf, data]) : data;
        this.client(ts);
      } else {
        this.sbuf = this.sbuf.length ? Buffer.concat([this.sbuf, data]) : data;
        this.server(ts);
      }
    } catch {
      this.count('malformed_postgres');
      this.dead = true;
    }
  }

  gap(): void {
    this.count('postgres_gap');
    this.dead = true; // framing is lost; a later connection starts clean
  }

  close(): void {
    if (this.building?.req.length || this.exchanges.length) this.count('postgres_incomplete_exchange');
  }

  private client(ts: number): void {
    while (!this.dead) {
      if (!this.startupDone && !this.expectSslAnswer) {
        if (this.cbuf.length < 8) return;
        const len = this.cbuf.readInt32BE(0);
        if (len < 8 || len > 10_000) return this.bad();
        if (this.cbuf.length < len) return;
        const code = this.cbuf.readInt32BE(4);
        const body = this.cbuf.subarray(8, len);
        this.cbuf = this.cbuf.subarray(len);
        if (code === 80877103 || code === 80877104) {
          this.expectSslAnswer = true; // SSLRequest / GSSENCRequest: the server answers one byte
          continue;
        }
        if (code === 80877102) continue; // CancelRequest
        const params: Record<string, string> = {};
        const r = new Reader(body);
        while (r.o < body.length) {
          const k = r.cstr();
          if (!k) break;
          params[k] = r.cstr();
        }
        this.user = params.user ?? '';
        this.database = params.database ?? this.user;
        this.startupDone = true;
        this.exchanges.push({ kind: 'startup', startMs: ts, req: [{ type: 'StartupMessage', protocolVersion: `${code >> 16}.${code & 0xffff}`, parameters: params }], res: [], reqBytes: len, resBytes: 0, truncated: false });
        continue;
      }
      if (this.expectSslAnswer) return; // wait for the server's one byte
      if (this.cbuf.length < 5) return;
      const t = String.fromCharCode(this.cbuf[0]!);
      const len = this.cbuf.readInt32BE(1);
      if (!CLIENT_TYPES[t] || len < 4 || len > 256 * 1024 * 1024) return this.bad();
      if (this.cbuf.length < 1 + len) return;
      const body = this.cbuf.subarray(5, 1 + len);
      this.cbuf = this.cbuf.subarray(1 + len);
      this.clientMessage(t, body, ts, 1 + len);
    }
  }

  private clientMessage(t: string, body: Buffer, ts: number, size: number): void {
    const r = new Reader(body);
    let msg: PgMessage;
    switch (t) {
      case 'Q':
        msg = { type: 'Query', query: r.cstr() };
        break;
      case 'P': {
        const name = r.cstr();
        const query = r.cstr();
        const n = r.i16();
        const paramTypes: number[] = [];
        for (let i = 0; i < n; i++) paramTypes.push(r.i32());
        this.statements.set(name, query);
        msg = { type: 'Parse', statement: name, query, paramTypes };
        break;
      }
      case 'B': {
        const portal = r.cstr();
        const statement = r.cstr();
        const nf = r.i16();
        const paramFormats: number[] = [];
        for (let i = 0; i < nf; i++) paramFormats.push(r.i16());
        const np = r.i16();
        const params: (string | null | { base64: string })[] = [];
        for (let i = 0; i < np; i++) {
          const l = r.i32();
          if (l < 0) params.push(null);
          else {
            const fmt = paramFormats.length === 1 ? paramFormats[0] : paramFormats[i] ?? 0;
            const b = r.bytes(l);
            params.push(fmt === 1 ? { base64: b.toString('base64') } : value(b));
          }
        }
        const nr = r.i16();
        const resultFormats: number[] = [];
        for (let i = 0; i < nr; i++) resultFormats.push(r.i16());
        msg = { type: 'Bind', portal, statement, paramFormats, parameters: params, resultFormats };
        break;
      }
      case 'D':
      case 'C':
        msg = { type: CLIENT_TYPES[t]!, target: String.fromCharCode(r.b[0] ?? 0x3f) === 'S' ? 'statement' : 'portal', name: (r.o++, r.cstr()) };
        break;
      case 'E':
        msg = { type: 'Execute', portal: r.cstr(), maxRows: r.i32() };
        break;
      case 'p':
        msg = { type: 'PasswordMessage' }; // credentials are never recorded
        break;
      case 'X':
        return; // Terminate: no answer comes
      default:
        msg = { type: CLIENT_TYPES[t]!, ...(body.length ? { dataBase64: body.subarray(0, 256).toString('base64') } : {}) };
    }
    // During authentication the client's messages belong to the startup exchange.
    const last = this.exchanges[this.exchanges.length - 1];
    if (t === 'p' && last?.kind === 'startup') {
      last.req.push(msg);
      last.reqBytes += size;
      return;
    }
    if (!this.building) this.building = { kind: 'other', startMs: ts, req: [], res: [], reqBytes: 0, resBytes: 0, truncated: false };
    this.building.req.push(msg);
    this.building.reqBytes += size;
    if (t === 'Q' || t === 'F' || t === 'S') {
      this.building.kind = t === 'Q' ? 'query' : t === 'F' ? 'function' : 'extended';
      this.exchanges.push(this.building);
      this.building = undefined;
    }
  }

  private server(ts: number): void {
    while (!this.dead) {
      if (this.expectSslAnswer) {
        if (this.sbuf.length < 1) return;
        const a = String.fromCharCode(this.sbuf[0]!);
        this.sbuf = this.sbuf.subarray(1);
        this.expectSslAnswer = false;
        if (a === 'S' || a === 'G') {
          this.count('postgres_encrypted');
          this.dead = true;
          return;
        }
        this.client(ts);
        continue;
      }
      if (this.sbuf.length < 5) return;
      const t = String.fromCharCode(this.sbuf[0]!);
      const len = this.sbuf.readInt32BE(1);
      if (!SERVER_TYPES[t] || len < 4 || len > 256 * 1024 * 1024) return this.bad();
      if (this.sbuf.length < 1 + len) return;
      const body = this.sbuf.subarray(5, 1 + len);
      this.sbuf = this.sbuf.subarray(1 + len);
      this.serverMessage(t, body, ts, 1 + len);
    }
  }

  private serverMessage(t: string, body: Buffer, ts: number, size: number): void {
    let ex = this.exchanges[0];
    if (!ex) {
      if (t === 'N' || t === 'A' || t === 'S') return; // asynchronous notices
      if (this.building) {
        // answer to a Flush: the exchange ends at the next ReadyForQuery all the same
        this.exchanges.push(this.building);
        this.building = undefined;
        ex = this.exchanges[0]!;
      } else {
        this.count('postgres_response_without_request');
        return;
      }
    }
    ex.resBytes += size;
    const r = new Reader(body);
    let msg: PgMessage;
    switch (t) {
      case 'R': {
        const code = r.i32();
        const names: Record<number, string> = { 0: 'Ok', 3: 'CleartextPassword', 5: 'MD5Password', 10: 'SASL', 11: 'SASLContinue', 12: 'SASLFinal' };
        msg = { type: 'Authentication', method: names[code] ?? String(code) };
        break;
      }
      case 'S':
        msg = { type: 'ParameterStatus', name: r.cstr(), value: r.cstr() };
        break;
      case 'K':
        msg = { type: 'BackendKeyData' }; // the cancel key is a secret; not recorded
        break;
      case 'Z':
        msg = { type: 'ReadyForQuery', status: String.fromCharCode(body[0] ?? 0x49) };
        break;
      case 'T': {
        const n = r.i16();
        const fields = [];
        for (let i = 0; i < n; i++) {
          const name = r.cstr();
          const tableOid = r.i32();
          const column = r.i16();
          const typeOid = r.i32();
          const typeSize = r.i16();
          const typeModifier = r.i32();
          const format = r.i16();
          fields.push({ name, tableOid, column, typeOid, typeSize, typeModifier, format });
        }
        msg = { type: 'RowDescription', fields };
        break;
      }
      case 'D': {
        if (this.budget <= 0) {
          ex.truncated = true;
          return;
        }
        this.budget -= body.length;
        const n = r.i16();
        const values: (string | null | { base64: string })[] = [];
        for (let i = 0; i < n; i++) {
          const l = r.i32();
          values.push(l < 0 ? null : value(r.bytes(l)));
        }
        msg = { type: 'DataRow', values };
        break;
      }
      case 'C':
        msg = { type: 'CommandComplete', tag: r.cstr() };
        break;
      case 'E':
      case 'N': {
        const fields: Record<string, string> = {};
        while (r.o < body.length) {
          const code = String.fromCharCode(body[r.o]!);
          r.o++;
          if (code === '\0') break;
          fields[code] = r.cstr();
        }
        msg = { type: SERVER_TYPES[t]!, severity: fields.S ?? '', code: fields.C ?? '', message: fields.M ?? '', ...(fields.D ? { detail: fields.D } : {}) };
        break;
      }
      case 't': {
        const n = r.i16();
        const types: number[] = [];
        for (let i = 0; i < n; i++) types.push(r.i32());
        msg = { type: 'ParameterDescription', paramTypes: types };
        break;
      }
      default:
        msg = { type: SERVER_TYPES[t]! };
    }
    ex.res.push(msg);
    if (t === 'Z') {
      this.exchanges.shift();
      this.finish(ex, ts);
    }
  }

  private finish(ex: Exchange, endMs: number): void {
    this.budget = this.maxBody;
    const err = ex.res.find((m) => m.type === 'ErrorResponse');
    const sql = ex.req.find((m) => m.type === 'Query' || m.type === 'Parse')?.query as string | undefined;
    const bind = ex.req.find((m) => m.type === 'Bind');
    const stmtSql = sql ?? (bind ? this.statements.get(String(bind.statement)) : undefined);
    let command: string;
    let location: string;
    if (ex.kind === 'startup') {
      command = 'Startup';
      location = `${this.user}@${this.database}`;
    } else if (ex.kind === 'query') {
      command = 'Query';
      location = oneLine(stmtSql ?? '');
    } else if (ex.req.some((m) => m.type === 'Execute')) {
      command = 'Execute';
      location = oneLine(stmtSql ?? '');
    } else {
      command = ex.req[0]?.type ?? 'Unknown';
      location = oneLine(stmtSql ?? '');
    }
    const tags: Record<string, string> = { ...this.tags };
    if (ex.truncated) tags.responseBodyTruncated = 'true';
    const rr: RRPair = {
      msgType: 'rrpair',
      resource: 'nettap',
      ts: rfc3339(ex.startMs),
      l7protocol: 'postgres',
      duration: Math.max(0, Math.round(endMs - ex.startMs)),
      tags,
      uuid: newUuid(),
      direction: this.direction,
      cluster: this.id.cluster,
      namespace: this.id.namespace,
      service: this.id.service,
      tech: 'Postgres',
      network_address: `${this.info.server.addr}:${this.info.server.port}`,
      command,
      location,
      status: err ? String(err.code || 'ERROR') : 'OK',
      postgres: {
        database: this.database,
        user: this.user,
        req: { messages: ex.req },
        res: { messages: ex.res },
      },
      netinfo: netinfo({ clientAddr: this.info.client.addr, clientPort: this.info.client.port, serverAddr: this.info.server.addr, serverPort: this.info.server.port, reqBytes: ex.reqBytes, resBytes: ex.resBytes }),
    };
    this.emit(rr);
  }

  private bad(): void {
    this.count('malformed_postgres');
    this.dead = true;
  }
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/** Does this look like the first message a Postgres client sends (startup, SSL or cancel request)? */
export function looksLikePgStartup(b: Buffer): boolean {
  if (b.length < 8) return false;
  const len = b.readInt32BE(0);
  const code = b.readInt32BE(4);
  return len >= 8 && len <= 10_000 && (code === 196608 || code === 80877103 || code === 80877104 || code === 80877102);
}
