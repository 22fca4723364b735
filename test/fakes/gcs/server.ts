/**
 * A strict wire fake of the Google Cloud Storage JSON API: the calls @google-cloud/storage 7 makes
 * for buckets.insert, objects.insert (multipart and resumable uploads), objects.list (prefix,
 * delimiter, pageToken, maxResults), objects.get (metadata and alt=media). Written from the
 * public API reference. Uploads are checked against the md5Hash / crc32c the client sends;
 * anything else gets 501 and is recorded in `rejected`, so tests can fail on it. The same buckets
 * answer the S3-compatible XML API subset in `xml.ts` (PUT Object, ListObjectsV2, SigV4 with an
 * HMAC key from `addHmacKey`), as one GCS bucket does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { crc32c } from '../../../src/helpers/crc32c.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleXml, type XmlBackend } from './xml.js';
import { readBody } from '../listen.js';

export { crc32c };

export function crc32cBase64(buf: Uint8Array): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32c(buf));
  return b.toString('base64');
}

interface StoredObject {
  name: string;
  bucket: string;
  data: Buffer;
  contentType: string;
  storageClass: string;
  generation: string;
  updated: string;
  kmsKeyName?: string;
  metadata?: Record<string, string>;
}

interface Session {
  bucket: string;
  meta: Record<string, unknown>;
  query: URLSearchParams;
  chunks: Buffer[];
  received: number;
}

const OBJECT_META_KEYS = new Set(['name', 'contentType', 'storageClass', 'metadata', 'md5Hash', 'crc32c', 'contentEncoding', 'cacheControl', 'contentDisposition', 'contentLanguage', 'kmsKeyName']);
const INSERT_QUERY = new Set(['uploadType', 'upload_id', 'name', 'ifGenerationMatch', 'kmsKeyName', 'predefinedAcl', 'projection', 'userProject']);
const LIST_QUERY = new Set(['prefix', 'delimiter', 'pageToken', 'maxResults', 'versions', 'projection', 'includeTrailingDelimiter', 'userProject']);

export class FakeGcs {
  readonly buckets = new Map<string, { storageClass: string; objects: Map<string, StoredObject> }>();
  readonly rejected: string[] = [];
  readonly requests: string[] = [];
  /** HMAC keys (access id → secret) the XML API accepts. */
  readonly hmacKeys = new Map<string, string>();
  private readonly sessions = new Map<string, Session>();
  private server?: Server;
  private gen = 1;
  endpoint = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.send(res, 500, { error: { code: 500, message: String(err) } }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  /** An HMAC key for the XML API, as `gcloud storage hmac create` makes one for a service account. */
  addHmacKey(accessId: string, secret: string): void {
    this.hmacKeys.set(accessId, secret);
  }

  private readonly xml: XmlBackend = {
    hmacKeys: this.hmacKeys,
    bucket: (name) => {
      const b = this.buckets.get(name);
      return b ? new Map([...b.objects].map(([k, o]) => [k, { name: o.name, data: o.data, contentType: o.contentType, updated: o.updated }])) : undefined;
    },
    put: (bucket, o) => {
      const b = this.buckets.get(bucket)!;
      b.objects.set(o.name, { ...o, bucket, storageClass: o.storageClass ?? b.storageClass, generation: String(Date.now() * 1000 + this.gen++), updated: new Date().toISOString() });
    },
    reject: (why) => void this.rejected.push(why),
  };

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { ...(body !== undefined ? { 'content-type': 'application/json; charset=UTF-8' } : {}), 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }

  private reject(res: ServerResponse, why: string): void {
    this.rejected.push(why);
    this.send(res, 501, { error: { code: 501, message: `fake GCS does not implement: ${why}` } });
  }

  private error(res: ServerResponse, code: number, message: string): void {
    this.send(res, code, { error: { code, message, errors: [{ message, reason: code === 404 ? 'notFound' : code === 412 ? 'conditionNotMet' : 'invalid' }] } });
  }

  private resource(o: StoredObject): Record<string, unknown> {
    return {
      kind: 'storage#object',
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${this.endpoint}/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: '1',
      contentType: o.contentType,
      storageClass: o.storageClass,
      size: String(o.data.length),
      md5Hash: createHash('md5').update(o.data).digest('base64'),
      crc32c: crc32cBase64(o.data),
      etag: createHash('md5').update(o.generation).digest('base64'),
      timeCreated: o.updated,
      updated: o.updated,
      ...(o.kmsKeyName ? { kmsKeyName: o.kmsKeyName } : {}),
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://x');
    const method = req.method!;
    const body = await readBody(req);
    this.requests.push(`${method} ${url.pathname}${url.search}`);
    if (handleXml(this.xml, req, res, body)) return;
    const path = url.pathname;
    let m: RegExpExecArray | null;

    if (method === 'POST' && path === '/storage/v1/b') {
      const meta = JSON.parse(body.toString() || '{}') as { name?: string; storageClass?: string };
      if (!url.searchParams.get('project')) return this.error(res, 400, 'project is required');
      if (!meta.name) return this.error(res, 400, 'bucket name is required');
      if (this.buckets.has(meta.name)) return this.error(res, 409, 'bucket exists');
      this.buckets.set(meta.name, { storageClass: meta.storageClass ?? 'STANDARD', objects: new Map() });
      return this.send(res, 200, { kind: 'storage#bucket', name: meta.name, storageClass: meta.storageClass ?? 'STANDARD' });
    }

    if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path))) {
      const bucket = decodeURIComponent(m[1]!);
      if (!this.buckets.has(bucket)) return this.error(res, 404, `bucket ${bucket} not found`);
      for (const k of url.searchParams.keys()) if (!INSERT_QUERY.has(k)) return this.reject(res, `objects.insert query parameter ${k}`);
      const type = url.searchParams.get('uploadType');
      if (method === 'POST' && type === 'multipart') {
        const ct = req.headers['content-type'] ?? '';
        const bm = /^multipart\/related;\s*boundary=("?)([^";]+)\1/i.exec(ct);
        if (!bm) return this.reject(res, `multipart upload with content-type ${ct}`);
        const parts = splitMultipart(body, bm[2]!);
        if (parts.length !== 2) return this.error(res, 400, `multipart upload needs 2 parts, got ${parts.length}`);
        if (!/application\/json/i.test(parts[0]!.headers['content-type'] ?? '')) return this.error(res, 400, 'first part must be JSON metadata');
        const meta = JSON.parse(parts[0]!.body.toString()) as Record<string, unknown>;
        return this.store(res, bucket, meta, url.searchParams, parts[1]!.body, parts[1]!.headers['content-type']);
      }
      if (method === 'POST' && type === 'resumable') {
        const meta = body.length ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
        const id = randomUUID();
        this.sessions.set(id, { bucket, meta, query: url.searchParams, chunks: [], received: 0 });
        return this.send(res, 200, undefined, { location: `${this.endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}` });
      }
      if (method === 'PUT' && type === 'resumable') {
        const id = url.searchParams.get('upload_id') ?? '';
        const s = this.sessions.get(id);
        if (!s) return this.error(res, 404, 'no such upload session');
        const cr = String(req.headers['content-range'] ?? '');
        const status = /^bytes \*\/(\*|\d+)$/.exec(cr);
        if (status) {
          // status query (or final zero-length chunk)
          if (status[1] !== '*' && Number(status[1]) === s.received) return this.finishSession(res, id, s);
          return this.send(res, 308, undefined, s.received ? { range: `bytes=0-${s.received - 1}` } : {});
        }
        const rm = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(cr);
        if (!rm) return this.reject(res, `resumable PUT with Content-Range "${cr}"`);
        const from = Number(rm[1]);
        if (from !== s.received) return this.error(res, 400, `chunk starts at ${from}, expected ${s.received}`);
        if (Number(rm[2]) - from + 1 !== body.length) return this.error(res, 400, 'Content-Range does not match the body length');
        if (rm[3] === '*' && body.length % (256 * 1024) !== 0) return this.error(res, 400, 'a non-final chunk must be a multiple of 256 KiB');
        s.chunks.push(body);
        s.received += body.length;
        if (rm[3] !== '*' && Number(rm[3]) === s.received) return this.finishSession(res, id, s);
        return this.send(res, 308, undefined, { range: `bytes=0-${s.received - 1}` });
      }
      return this.reject(res, `${method} upload with uploadType=${type}`);
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path)) && method === 'GET') {
      const b = this.buckets.get(decodeURIComponent(m[1]!));
      if (!b) return this.error(res, 404, 'bucket not found');
      for (const k of url.searchParams.keys()) if (!LIST_QUERY.has(k)) return this.reject(res, `objects.list query parameter ${k}`);
      const prefix = url.searchParams.get('prefix') ?? '';
      const delimiter = url.searchParams.get('delimiter') ?? '';
      const max = Math.min(Number(url.searchParams.get('maxResults') ?? 1000), 1000);
      const token = url.searchParams.get('pageToken');
      const after = token ? Buffer.from(token, 'base64url').toString() : '';
      const names = [...b.objects.keys()].filter((n) => n.startsWith(prefix) && n > after).sort();
      const items: StoredObject[] = [];
      const prefixes = new Set<string>();
      let last = '';
      for (const n of names) {
        if (items.length + prefixes.size >= max) break;
        const rest = n.slice(prefix.length);
        const d = delimiter ? rest.indexOf(delimiter) : -1;
        if (d >= 0) {
          const p = prefix + rest.slice(0, d + delimiter.length);
          if (!prefixes.has(p)) prefixes.add(p);
          last = n;
          continue;
        }
        items.push(b.objects.get(n)!);
        last = n;
      }
      const more = names.some((n) => n > last) && last !== '';
      return this.send(res, 200, {
        kind: 'storage#objects',
        ...(items.length ? { items: items.map((o) => this.resource(o)) } : {}),
        ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
        ...(more ? { nextPageToken: Buffer.from(last).toString('base64url') } : {}),
      });
    }

    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path)) && method === 'GET') {
      const b = this.buckets.get(decodeURIComponent(m[1]!));
      const name = decodeURIComponent(m[2]!);
      const o = b?.objects.get(name);
      if (!o) return this.error(res, 404, `No such object: ${m[1]}/${name}`);
      const alt = url.searchParams.get('alt');
      if (alt === 'media') {
        for (const k of url.searchParams.keys()) if (!['alt', 'generation', 'userProject'].includes(k)) return this.reject(res, `objects.get media query parameter ${k}`);
        if (req.headers.range) return this.reject(res, 'ranged downloads');
        res.writeHead(200, {
          'content-type': o.contentType,
          'content-length': String(o.data.length),
          'x-goog-hash': `crc32c=${crc32cBase64(o.data)},md5=${createHash('md5').update(o.data).digest('base64')}`,
          'x-goog-generation': o.generation,
          'x-goog-stored-content-encoding': 'identity',
          'x-goog-storage-class': o.storageClass,
        });
        res.end(o.data);
        return;
      }
      if (alt && alt !== 'json') return this.reject(res, `alt=${alt}`);
      return this.send(res, 200, this.resource(o));
    }

    return this.reject(res, `${method} ${path}`);
  }

  private finishSession(res: ServerResponse, id: string, s: Session): void {
    this.sessions.delete(id);
    this.store(res, s.bucket, s.meta, s.query, Buffer.concat(s.chunks), undefined);
  }

  private store(res: ServerResponse, bucket: string, meta: Record<string, unknown>, q: URLSearchParams, data: Buffer, partType: string | undefined): void {
    for (const k of Object.keys(meta)) if (!OBJECT_META_KEYS.has(k)) return this.reject(res, `object metadata field ${k}`);
    const name = (meta.name as string | undefined) ?? q.get('name') ?? '';
    if (!name) return this.error(res, 400, 'object name is required');
    if (typeof meta.md5Hash === 'string' && meta.md5Hash !== createHash('md5').update(data).digest('base64')) return this.error(res, 400, 'Provided MD5 hash does not match the data');
    if (typeof meta.crc32c === 'string' && meta.crc32c !== crc32cBase64(data)) return this.error(res, 400, 'Provided CRC32C does not match the data');
    const sc = meta.storageClass as string | undefined;
    if (sc && !['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'].includes(sc)) return this.error(res, 400, `invalid storage class ${sc}`);
    const b = this.buckets.get(bucket)!;
    const ifGen = q.get('ifGenerationMatch');
    if (ifGen !== null) {
      const cur = b.objects.get(name);
      if ((ifGen === '0' && cur) || (ifGen !== '0' && cur?.generation !== ifGen)) return this.error(res, 412, 'At least one of the pre-conditions you specified did not hold.');
    }
    const o: StoredObject = {
      name,
      bucket,
      data,
      contentType: (meta.contentType as string | undefined) ?? partType ?? 'application/octet-stream',
      storageClass: sc ?? b.storageClass,
      generation: String(Date.now() * 1000 + this.gen++),
      updated: new Date().toISOString(),
      ...(q.get('kmsKeyName') || meta.kmsKeyName ? { kmsKeyName: (q.get('kmsKeyName') ?? meta.kmsKeyName) as string } : {}),
      ...(meta.metadata ? { metadata: meta.metadata as Record<string, string> } : {}),
    };
    b.objects.set(name, o);
    this.send(res, 200, this.resource(o));
  }
}


function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delim = Buffer.from(`--${boundary}`);
  const out: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    let part = body.subarray(start, next);
    if (part.subarray(part.length - 2).toString() === '\r\n') part = part.subarray(0, part.length - 2);
    const sep = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, sep < 0 ? 0 : sep).toString().split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    out.push({ headers, body: sep < 0 ? Buffer.alloc(0) : part.subarray(sep + 4) });
    pos = next;
  }
  return out;
}
