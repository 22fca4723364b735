/**
 * A strict wire-level fake of Grafana Loki 2.9's HTTP API, written from Loki's documentation and
 * push.proto, for tests where no Loki server can run:
 *
 * - `POST /loki/api/v1/push`: `application/x-protobuf` (logproto.PushRequest, snappy block format,
 *   unknown fields and wrong wire types refused) or `application/json`; `Content-Encoding` gzip /
 *   deflate / snappy; the limits Loki enforces by default (label name syntax, at least one label,
 *   no duplicate names, 15 label names, name 1024 / value 2048 bytes, line 256 KiB, timestamps
 *   no older than 168h nor more than 10m ahead, entries no further than 1h behind the stream's
 *   newest with unordered writes, or strictly ordered without); an identical entry (same
 *   timestamp and line) is ignored as Loki does. Valid entries are kept even when others are
 *   refused, and the request then answers 400 with the reasons, as Loki's distributor does.
 * - `GET /loki/api/v1/query_range` (the LogQL subset in logql.ts; limit, direction, start
 *   inclusive, end exclusive, times as ns, s or RFC 3339; a response over 4 MiB answers 500
 *   ResourceExhausted as Loki's query frontend does), `/loki/api/v1/labels`,
 *   `/loki/api/v1/label/<name>/values`, `/ready`.
 * - `POST /otlp/v1/logs`: Loki 3's native OTLP ingestion (otlp.ts: index labels from resource
 *   attributes, the body as the line, the rest as structured metadata), then the same limits.
 *   Structured metadata is kept per entry and, as Loki answers a query_range that does not ask
 *   for categorized labels, merged into each result's stream labels.
 * - Tenants: `X-Scope-OrgID`, required when `authEnabled` (else tenant "fake").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { jsonLabels, LogQLError, parseLabelSet, parseLogQL, runPipeline } from './logql.js';
import { OtlpRefusal, otlpToEntries } from './otlp.js';
import { readBody } from '../listen.js';

export interface LokiFakeOptions {
  authEnabled?: boolean;
  unorderedWrites?: boolean;
  rejectOldSamplesMaxAgeMs?: number;
  creationGracePeriodMs?: number;
  maxLineSize?: number;
  maxLabelNamesPerSeries?: number;
  maxEntriesLimitPerQuery?: number;
  maxResponseBytes?: number;
  /** Resource attributes Loki's otlp_config promotes to index labels besides its defaults. */
  otlpIndexLabels?: string[];
  /** limits_config.allow_structured_metadata (true by default since Loki 3.0). */
  allowStructuredMetadata?: boolean;
  /** The fake's clock, in ms. */
  now?: () => number;
}

export interface FakeEntry {
  tsNs: bigint;
  line: string;
  /** Structured metadata (OTLP ingestion). */
  metadata?: Record<string, string>;
}

export interface FakeStream {
  labels: Map<string, string>;
  entries: FakeEntry[];
}

export interface PushLog {
  /** /loki/api/v1/push or /otlp/v1/logs. */
  path: string;
  tenant: string;
  contentType: string;
  contentEncoding: string;
  status: number;
  streams: number;
  entries: number;
  error?: string;
  /** The label strings as sent (protobuf) or rebuilt from the map (JSON). */
  labels: string[];
}

const SCHEMA = `syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;
const PUSH = `syntax = "proto3";
package logproto;
message PushRequest { repeated StreamAdapter streams = 1; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
message EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
`;
const root = new protobuf.Root();
protobuf.parse(SCHEMA, root, { keepCase: true });
protobuf.parse(PUSH, root, { keepCase: true });
root.resolveAll();
const PushRequest = root.lookupType('logproto.PushRequest');

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SNAPPY_FRAMING = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const HOUR_NS = 3_600_000_000_000n;

function wireTypeOf(field: protobuf.Field): number[] {
  if (field.resolvedType instanceof protobuf.Type) return [2];
  switch (field.type) {
    case 'string':
    case 'bytes':
      return [2];
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return [1];
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return [5];
    default:
      return field.repeated ? [0, 2] : [0];
  }
}

/** Every field of the message must be one the schema declares, with its wire type. */
function checkFields(buf: Uint8Array, type: protobuf.Type, path: string): void {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wt = tag & 7;
    const field = type.fieldsById[id];
    if (!field) throw new HttpError(400, `proto: ${path}: unknown field ${id} (wire type ${wt})`);
    if (!wireTypeOf(field).includes(wt)) throw new HttpError(400, `proto: ${path}.${field.name}: wrong wire type ${wt}`);
    if (field.resolvedType instanceof protobuf.Type) {
      const len = r.uint32();
      if (r.pos + len > r.len) throw new HttpError(400, `proto: ${path}.${field.name}: unexpected EOF`);
      checkFields(buf.subarray(r.pos, r.pos + len), field.resolvedType, `${path}.${field.name}`);
      r.pos += len;
    } else r.skipType(wt);
  }
}

function sortedLabels(m: Map<string, string>): Map<string, string> {
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
const labelKey = (m: Map<string, string>) => JSON.stringify([...sortedLabels(m)]);
const labelText = (m: Map<string, string>) => `{${[...sortedLabels(m)].map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;

/** Loki's parseTimestamp: float seconds, integer ns (or s when 10 digits or fewer), or RFC 3339. */
export function parseLokiTime(v: string | null, def: bigint): bigint {
  if (v === null || v === '') return def;
  if (/^\d+\.\d*$/.test(v)) return BigInt(Math.round(Number(v) * 1e9));
  if (/^-?\d+$/.test(v)) return v.replace('-', '').length <= 10 ? BigInt(v) * 1_000_000_000n : BigInt(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new HttpError(400, `cannot parse "${v}" to a valid timestamp`);
  const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
  return BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9) || '0');
}

interface IncomingStream {
  labelsText: string;
  labels?: Map<string, string>;
  labelError?: string;
  entries: FakeEntry[];
}

export class LokiFake {
  readonly tenants = new Map<string, Map<string, FakeStream>>();
  readonly pushes: PushLog[] = [];
  readonly queries: { tenant: string; query: string; status: number }[] = [];
  private readonly opts: Required<LokiFakeOptions>;
  private server!: Server;
  private injected: { status: number; body: string; retryAfter?: string; times: number }[] = [];
  url = '';

  constructor(opts: LokiFakeOptions = {}) {
    this.opts = {
      authEnabled: false,
      unorderedWrites: true,
      rejectOldSamplesMaxAgeMs: 168 * 3_600_000,
      creationGracePeriodMs: 10 * 60_000,
      maxLineSize: 256 * 1024,
      maxLabelNamesPerSeries: 15,
      maxEntriesLimitPerQuery: 5000,
      maxResponseBytes: 4 * 1024 * 1024,
      otlpIndexLabels: [],
      allowStructuredMetadata: true,
      now: Date.now,
      ...opts,
    };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` pushes answer `status` (e.g. 429, 500, 503) before anything is read. */
  failPushes(status: number, times = 1, body = 'injected failure', retryAfter?: string): void {
    this.injected.push({ status, body, times, ...(retryAfter ? { retryAfter } : {}) });
  }

  /** Every stored entry of a tenant, with its stream's labels. */
  entries(tenant = 'fake'): { labels: Record<string, string>; tsNs: bigint; line: string; metadata?: Record<string, string> }[] {
    const out: { labels: Record<string, string>; tsNs: bigint; line: string; metadata?: Record<string, string> }[] = [];
    for (const s of this.tenants.get(tenant)?.values() ?? []) for (const e of s.entries) out.push({ labels: Object.fromEntries(s.labels), ...e });
    return out;
  }

  private tenantOf(req: IncomingMessage): string {
    const t = req.headers['x-scope-orgid'];
    const v = Array.isArray(t) ? t[0] : t;
    if (v) {
      if (v.includes('|')) throw new HttpError(400, 'multi-tenant queries are not implemented by the fake');
      return v;
    }
    if (this.opts.authEnabled) throw new HttpError(401, 'no org id');
    return 'fake';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: string | object, type = 'text/plain; charset=utf-8') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? type : 'application/json' });
      res.end(text);
    };
    try {
      const raw = await readBody(req);
      if (req.method === 'GET' && url.pathname === '/ready') return send(200, 'ready\n');
      if (url.pathname === '/loki/api/v1/push') {
        if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
        return this.push(req, raw, send, res);
      }
      if (url.pathname === '/otlp/v1/logs') {
        if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
        return this.push(req, raw, send, res, true);
      }
      if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'method not allowed');
      const params = req.method === 'POST' && raw.length ? new URLSearchParams(raw.toString()) : url.searchParams;
      if (url.pathname === '/loki/api/v1/query_range') return this.queryRange(req, params, send);
      if (url.pathname === '/loki/api/v1/labels') return send(200, { status: 'success', data: this.labelNames(this.tenantOf(req), params) });
      const m = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/.exec(url.pathname);
      if (m) return send(200, { status: 'success', data: this.labelValues(this.tenantOf(req), decodeURIComponent(m[1]!), params) });
      throw new HttpError(404, '404 page not found');
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, `${err.message}\n`);
      return send(500, `${(err as Error).message}\n`);
    }
  }

  private push(req: IncomingMessage, raw: Buffer, send: (s: number, b: string) => void, res: ServerResponse, otlp = false): void {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const contentEncoding = (req.headers['content-encoding'] ?? '').toLowerCase();
    const log: PushLog = { path: otlp ? '/otlp/v1/logs' : '/loki/api/v1/push', tenant: '', contentType, contentEncoding, status: 204, streams: 0, entries: 0, labels: [] };
    this.pushes.push(log);
    try {
      const inj = this.injected[0];
      if (inj) {
        if (--inj.times <= 0) this.injected.shift();
        if (inj.retryAfter) res.setHeader('retry-after', inj.retryAfter);
        throw new HttpError(inj.status, inj.body);
      }
      log.tenant = this.tenantOf(req);
      if (otlp) return this.pushOtlp(log, contentType, contentEncoding, raw, res);
      let body = raw;
      if (contentEncoding === 'gzip') body = gunzipSync(raw);
      else if (contentEncoding === 'deflate') body = inflateSync(raw);
      else if (contentEncoding !== '' && contentEncoding !== 'snappy') throw new HttpError(415, `Content-Encoding "${contentEncoding}" not supported`);
      const streams = contentType === 'application/json' ? this.decodeJson(body) : contentType === 'application/x-protobuf' || contentType === '' ? this.decodeProtobuf(body) : undefined;
      if (!streams) throw new HttpError(415, `unsupported Content-Type "${contentType}"`);
      log.streams = streams.length;
      log.entries = streams.reduce((n, s) => n + s.entries.length, 0);
      log.labels = streams.map((s) => s.labelsText);
      const errors = this.ingest(log.tenant, streams);
      if (errors.length) throw new HttpError(400, errors.length === 1 ? errors[0]! : `${errors[0]} (and ${errors.length - 1} more errors)`);
      res.writeHead(204);
      res.end();
    } catch (err) {
      log.status = err instanceof HttpError ? err.status : 400;
      log.error = (err as Error).message;
      send(log.status, `${log.error}\n`);
    }
  }

  private pushOtlp(log: PushLog, contentType: string, contentEncoding: string, raw: Buffer, res: ServerResponse): void {
    let entries;
    try {
      entries = otlpToEntries(contentType, contentEncoding, raw, {
        indexAttributes: this.opts.otlpIndexLabels,
        allowStructuredMetadata: this.opts.allowStructuredMetadata,
        nowNs: BigInt(this.opts.now()) * 1_000_000n,
      });
    } catch (err) {
      if (err instanceof OtlpRefusal) throw new HttpError(err.status, err.message);
      throw err;
    }
    const streams = new Map<string, IncomingStream>();
    for (const e of entries) {
      const key = labelKey(e.labels);
      let s = streams.get(key);
      if (!s) streams.set(key, (s = { labelsText: labelText(e.labels), labels: e.labels, entries: [] }));
      s.entries.push({ tsNs: e.tsNs, line: e.line, metadata: e.metadata });
    }
    log.streams = streams.size;
    log.entries = entries.length;
    log.labels = [...streams.values()].map((s) => s.labelsText);
    const errors = this.ingest(log.tenant, [...streams.values()]);
    if (errors.length) throw new HttpError(400, errors.length === 1 ? errors[0]! : `${errors[0]} (and ${errors.length - 1} more errors)`);
    res.writeHead(204);
    res.end();
  }

  private decodeProtobuf(body: Buffer): IncomingStream[] {
    if (body.subarray(0, SNAPPY_FRAMING.length).equals(SNAPPY_FRAMING)) throw new HttpError(400, 'snappy: corrupt input (the snappy framing format; Loki reads the block format)');
    let plain: Uint8Array;
    try {
      // The block format starts with the uncompressed length (a varint): refuse a bomb before inflating.
      const r = protobuf.Reader.create(body);
      if (r.uint32() > 100 * 1024 * 1024) throw new Error('uncompressed length over 100 MiB');
      plain = snappy.uncompress(new Uint8Array(body));
    } catch (err) {
      throw new HttpError(400, `snappy: corrupt input: ${(err as Error).message}`);
    }
    let msg: { streams?: { labels?: string; entries?: { timestamp?: { seconds?: number | string; nanos?: number }; line?: string }[] }[] };
    try {
      checkFields(plain, PushRequest, 'PushRequest');
      msg = PushRequest.toObject(PushRequest.decode(plain), { longs: String, defaults: false }) as typeof msg;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, `proto: ${(err as Error).message}`);
    }
    return (msg.streams ?? []).map((s) => {
      const out: IncomingStream = { labelsText: s.labels ?? '', entries: [] };
      try {
        out.labels = parseLabelSet(s.labels ?? '');
      } catch (err) {
        out.labelError = `error parsing labels '${s.labels ?? ''}' with error: ${(err as Error).message}`;
      }
      for (const e of s.entries ?? []) {
        const sec = BigInt(e.timestamp?.seconds ?? 0);
        out.entries.push({ tsNs: sec * 1_000_000_000n + BigInt(e.timestamp?.nanos ?? 0), line: e.line ?? '' });
      }
      return out;
    });
  }

  private decodeJson(body: Buffer): IncomingStream[] {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `loghttp: cannot decode the JSON push: ${(err as Error).message}`);
    }
    const streams = (doc as { streams?: unknown })?.streams;
    if (!Array.isArray(streams)) throw new HttpError(400, 'loghttp: "streams" must be an array');
    return streams.map((s: { stream?: unknown; values?: unknown }) => {
      if (typeof s?.stream !== 'object' || s.stream === null || Array.isArray(s.stream)) throw new HttpError(400, 'loghttp: "stream" must be an object of label names to values');
      const labels = new Map<string, string>();
      for (const [k, v] of Object.entries(s.stream)) {
        if (typeof v !== 'string') throw new HttpError(400, `loghttp: label ${k} must be a string`);
        labels.set(k, v);
      }
      if (!Array.isArray(s.values)) throw new HttpError(400, 'loghttp: "values" must be an array');
      const out: IncomingStream = { labelsText: labelText(labels), labels, entries: [] };
      for (const v of s.values as unknown[]) {
        if (!Array.isArray(v) || v.length < 2 || v.length > 3 || typeof v[0] !== 'string' || !/^\d+$/.test(v[0]) || typeof v[1] !== 'string') {
          throw new HttpError(400, 'loghttp: each value must be ["<unix epoch in nanoseconds>", "<log line>"(, {structured metadata})]');
        }
        out.entries.push({ tsNs: BigInt(v[0]), line: v[1] });
      }
      for (const k of labels.keys()) if (!LABEL_NAME.test(k)) out.labelError = `error parsing labels '${out.labelsText}' with error: invalid label name "${k}"`;
      return out;
    });
  }

  /** Validates and stores; returns the reasons of what was refused. */
  private ingest(tenant: string, streams: IncomingStream[]): string[] {
    const errors: string[] = [];
    const nowNs = BigInt(this.opts.now()) * 1_000_000n;
    const oldest = nowNs - BigInt(this.opts.rejectOldSamplesMaxAgeMs) * 1_000_000n;
    const newest = nowNs + BigInt(this.opts.creationGracePeriodMs) * 1_000_000n;
    let store = this.tenants.get(tenant);
    if (!store) this.tenants.set(tenant, (store = new Map()));
    for (const s of streams) {
      if (s.labelError) {
        errors.push(s.labelError);
        continue;
      }
      const labels = s.labels!;
      const text = labelText(labels);
      if (labels.size === 0) {
        errors.push('error at least one label pair is required per stream');
        continue;
      }
      const bad = [...labels].find(([k]) => !LABEL_NAME.test(k));
      if (bad) {
        errors.push(`error parsing labels '${s.labelsText}' with error: invalid label name "${bad[0]}"`);
        continue;
      }
      if (labels.size > this.opts.maxLabelNamesPerSeries) {
        errors.push(`stream '${text}' has ${labels.size} label names; limit ${this.opts.maxLabelNamesPerSeries}`);
        continue;
      }
      const longName = [...labels.keys()].find((k) => Buffer.byteLength(k) > 1024);
      if (longName) {
        errors.push(`stream '${text}' has label name too long: '${longName}'`);
        continue;
      }
      const longValue = [...labels.values()].find((v) => Buffer.byteLength(v) > 2048);
      if (longValue !== undefined) {
        errors.push(`stream '${text}' has label value too long: '${longValue}'`);
        continue;
      }
      const key = labelKey(labels);
      let stream = store.get(key);
      for (const e of s.entries) {
        if (e.tsNs < oldest) {
          errors.push(`entry for stream '${text}' has timestamp too old: ${new Date(Number(e.tsNs / 1_000_000n)).toISOString()}, oldest acceptable timestamp is: ${new Date(Number(oldest / 1_000_000n)).toISOString()}`);
          continue;
        }
        if (e.tsNs > newest) {
          errors.push(`entry for stream '${text}' has timestamp too new: ${new Date(Number(e.tsNs / 1_000_000n)).toISOString()}`);
          continue;
        }
        const size = Buffer.byteLength(e.line);
        if (size > this.opts.maxLineSize) {
          errors.push(`Max entry size '${this.opts.maxLineSize}' bytes exceeded for stream '${text}' while adding an entry with length '${size}' bytes`);
          continue;
        }
        const meta = Object.entries(e.metadata ?? {});
        // Loki's defaults: max_structured_metadata_entries_count 128, max_structured_metadata_size 64 KiB.
        if (meta.length > 128) {
          errors.push(`stream '${text}' has structured metadata too many entries: ${meta.length}, limit 128`);
          continue;
        }
        const metaSize = meta.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
        if (metaSize > 64 * 1024) {
          errors.push(`stream '${text}' has structured metadata too large: '${metaSize}' bytes, limit: '65536' bytes`);
          continue;
        }
        if (!stream) store.set(key, (stream = { labels: sortedLabels(labels), entries: [] }));
        const last = stream.entries[stream.entries.length - 1];
        if (last && e.tsNs <= last.tsNs) {
          if (stream.entries.some((x) => x.tsNs === e.tsNs && x.line === e.line)) continue; // duplicate: ignored
          if (!this.opts.unorderedWrites && e.tsNs < last.tsNs) {
            errors.push(`entry with timestamp ${new Date(Number(e.tsNs / 1_000_000n)).toISOString()} ignored, reason: 'entry out of order' for stream: ${text}`);
            continue;
          }
          if (e.tsNs < last.tsNs - HOUR_NS) {
            errors.push(`entry with timestamp ${new Date(Number(e.tsNs / 1_000_000n)).toISOString()} ignored, reason: 'entry too far behind, oldest acceptable timestamp is: ${new Date(Number((last.tsNs - HOUR_NS) / 1_000_000n)).toISOString()}' for stream: ${text}`);
            continue;
          }
          let i = stream.entries.length;
          while (i > 0 && stream.entries[i - 1]!.tsNs > e.tsNs) i--;
          stream.entries.splice(i, 0, e);
        } else stream.entries.push(e);
      }
    }
    return errors;
  }

  private queryRange(req: IncomingMessage, p: URLSearchParams, send: (s: number, b: object) => void): void {
    const tenant = this.tenantOf(req);
    const query = p.get('query');
    if (!query) throw new HttpError(400, 'query parameter is required');
    const log = { tenant, query, status: 200 };
    this.queries.push(log);
    const nowNs = BigInt(this.opts.now()) * 1_000_000n;
    const end = parseLokiTime(p.get('end'), nowNs);
    const start = parseLokiTime(p.get('start'), end - HOUR_NS);
    if (end < start) throw new HttpError(400, 'end timestamp must not be before start time');
    const limit = Number(p.get('limit') ?? '100');
    if (!Number.isInteger(limit) || limit <= 0) throw new HttpError(400, 'limit must be a positive value');
    if (limit > this.opts.maxEntriesLimitPerQuery) throw new HttpError(400, `max entries limit per query exceeded, limit > max_entries_limit (${limit} > ${this.opts.maxEntriesLimitPerQuery})`);
    const direction = (p.get('direction') ?? 'backward').toLowerCase();
    if (direction !== 'backward' && direction !== 'forward') throw new HttpError(400, `invalid direction "${direction}"`);
    let q;
    try {
      q = parseLogQL(query);
    } catch (err) {
      log.status = 400;
      if (err instanceof LogQLError) throw new HttpError(400, err.message);
      throw err;
    }
    const hits: { labels: Map<string, string>; e: FakeEntry }[] = [];
    for (const s of this.tenants.get(tenant)?.values() ?? []) {
      if (!q.selector.every((m) => m.test(s.labels.get(m.name) ?? ''))) continue;
      for (const e of s.entries) {
        if (e.tsNs < start || e.tsNs >= end) continue;
        const labels = runPipeline(q, e.metadata ? new Map([...s.labels, ...Object.entries(e.metadata)]) : s.labels, e.line);
        if (labels) hits.push({ labels, e });
      }
    }
    const sign = direction === 'backward' ? -1 : 1;
    hits.sort((a, b) => (a.e.tsNs === b.e.tsNs ? 0 : a.e.tsNs < b.e.tsNs ? -sign : sign));
    const byStream = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
    for (const h of hits.slice(0, limit)) {
      const key = labelKey(h.labels);
      let g = byStream.get(key);
      if (!g) byStream.set(key, (g = { stream: Object.fromEntries(sortedLabels(h.labels)), values: [] }));
      g.values.push([h.e.tsNs.toString(), h.e.line]);
    }
    const body = { status: 'success', data: { resultType: 'streams', result: [...byStream.values()], stats: { summary: { totalEntriesReturned: Math.min(limit, hits.length) } } } };
    const size = Buffer.byteLength(JSON.stringify(body));
    if (size > this.opts.maxResponseBytes) {
      log.status = 500;
      throw new HttpError(500, `rpc error: code = ResourceExhausted desc = grpc: received message larger than max (${size} vs. ${this.opts.maxResponseBytes})`);
    }
    send(200, body);
  }

  private inRange(p: URLSearchParams): (e: FakeEntry) => boolean {
    const nowNs = BigInt(this.opts.now()) * 1_000_000n;
    const end = parseLokiTime(p.get('end'), nowNs);
    const start = parseLokiTime(p.get('start'), end - 6n * HOUR_NS);
    return (e) => e.tsNs >= start && e.tsNs < end;
  }

  private labelNames(tenant: string, p: URLSearchParams): string[] {
    const ok = this.inRange(p);
    const names = new Set<string>();
    for (const s of this.tenants.get(tenant)?.values() ?? []) if (s.entries.some(ok)) for (const k of s.labels.keys()) names.add(k);
    return [...names].sort();
  }

  private labelValues(tenant: string, name: string, p: URLSearchParams): string[] {
    const ok = this.inRange(p);
    const values = new Set<string>();
    for (const s of this.tenants.get(tenant)?.values() ?? []) {
      const v = s.labels.get(name);
      if (v !== undefined && s.entries.some(ok)) values.add(v);
    }
    return [...values].sort();
  }
}

export async function startLokiFake(opts: LokiFakeOptions = {}): Promise<LokiFake> {
  return new LokiFake(opts).start();
}

export { jsonLabels, parseLabelSet, parseLogQL };
