import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenFake, type FakeListener, readBody } from '../listen.js';

/**
 * A strict wire fake of Azure Data Lake Storage Gen2 (hierarchical namespace), of exactly what
 * @azure/storage-file-datalake sends, written from the REST reference
 * (learn.microsoft.com/rest/api/storageservices/data-lake-storage-gen2): path-style URLs
 * http://127.0.0.1:port/<account>/<filesystem>/<path> as for the storage emulators, every request
 * signed with SharedKey (the signature is checked), or, when the fake was given a token and serves
 * HTTPS, `Authorization: Bearer <that token>` (Entra ID, as a managed identity's), and only these calls:
 *
 * - PUT  /<fs>?restype=container                  create the filesystem (Blob endpoint; 409 when it exists)
 * - PUT  /<fs>/<path>?resource=file              create a file and its parent directories (If-None-Match: *)
 * - PATCH /<fs>/<path>?action=append&position=n  append at exactly the uncommitted length
 * - PATCH /<fs>/<path>?action=flush&position=n   commit exactly what was appended
 * - GET  /<fs>?resource=filesystem&directory=&recursive=&maxResults=&continuation=   list paths (JSON, x-ms-continuation)
 * - GET  /<fs>/<path>                            read a file (Blob endpoint; only flushed bytes)
 *
 * Anything else is refused (400/403/404/405) with the service's error shape.
 */

interface Path { dir: boolean; data: Buffer; pending: Map<number, Buffer>; contentType?: string; etag: string; modified: Date }
interface FileSystem { paths: Map<string, Path> }

class StorageError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class FakeDataLake {
  private listener?: FakeListener;
  port = 0;
  readonly fileSystems = new Map<string, FileSystem>();
  readonly requests: { method: string; path: string; query: string }[] = [];
  /** Answer the next n flushes with 503 ServerBusy. */
  busyFlushes = 0;
  down = false;
  cut = 0;
  /** Page size of a listing when the client asks for more. */
  pageSize = 1000;
  /** The one bearer token accepted (the identity endpoint's); unset: SharedKey only. */
  bearer?: () => string;
  /** The Authorization scheme of every request, in order (SharedKey or Bearer). */
  readonly schemes: string[] = [];

  constructor(
    readonly account = 'devstoreaccount1',
    readonly key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
    private readonly tls?: { cert: string; key: string },
  ) {}

  /** The account's endpoint (path-style, as an emulator's). */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/${this.account}`;
  }

  get connectionString(): string {
    return `DefaultEndpointsProtocol=http;AccountName=${this.account};AccountKey=${this.key};BlobEndpoint=${this.url};`;
  }

  async start(): Promise<void> {
    this.listener = await listenFake((req, res) => this.handle(req, res), this.tls);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  /** Every committed file of a filesystem, by path. */
  files(fs: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [k, p] of this.fileSystems.get(fs)?.paths ?? []) if (!p.dir) out.set(k, p.data);
    return out;
  }

  directories(fs: string): string[] {
    return [...(this.fileSystems.get(fs)?.paths ?? [])].filter(([, p]) => p.dir).map(([k]) => k).sort();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.down) {
      this.cut++;
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.port}`);
    let dfs = true;
    try {
      this.verify(req, url, body);
      const parts = url.pathname.split('/').slice(1);
      if (parts.shift() !== this.account) throw new StorageError(400, 'InvalidUri', 'The request URI does not name this account.');
      const fsName = decodeURIComponent(parts.shift() ?? '');
      const path = parts.map(decodeURIComponent).join('/');
      const q = url.searchParams;
      this.requests.push({ method: req.method ?? '', path: `${fsName}/${path}`, query: url.search });
      if (req.method === 'PUT' && !path && q.get('restype') === 'container') {
        dfs = false;
        onlyParams(q, ['restype']);
        if (this.fileSystems.has(fsName)) throw new StorageError(409, 'ContainerAlreadyExists', 'The specified container already exists.');
        if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(fsName)) throw new StorageError(400, 'InvalidResourceName', 'The specified resource name contains invalid characters.');
        this.fileSystems.set(fsName, { paths: new Map() });
        return this.reply(res, 201, {});
      }
      const fs = this.fileSystems.get(fsName);
      if (req.method === 'GET' && !path) {
        if (q.get('resource') !== 'filesystem') throw new StorageError(400, 'InvalidQueryParameterValue', 'resource must be filesystem');
        onlyParams(q, ['resource', 'directory', 'recursive', 'maxResults', 'continuation']);
        if (!fs) throw new StorageError(404, 'FilesystemNotFound', 'The specified filesystem does not exist.');
        return this.list(res, fs, q);
      }
      if (!fs) throw new StorageError(404, dfs ? 'FilesystemNotFound' : 'ContainerNotFound', 'The specified filesystem does not exist.');
      if (!path) throw new StorageError(400, 'InvalidUri', 'No path.');
      if (req.method === 'PUT') {
        if (q.get('resource') !== 'file') throw new StorageError(400, 'InvalidQueryParameterValue', 'the fake creates files only (resource=file)');
        onlyParams(q, ['resource']);
        const had = fs.paths.get(path);
        if (req.headers['if-none-match'] === '*' && had) throw new StorageError(409, 'PathAlreadyExists', 'The specified path already exists.');
        if (req.headers['if-none-match'] !== undefined && req.headers['if-none-match'] !== '*') throw new StorageError(400, 'InvalidHeaderValue', 'If-None-Match must be *');
        if (had?.dir) throw new StorageError(409, 'PathConflict', 'The specified path is a directory.');
        const dirs = path.split('/').slice(0, -1);
        for (let i = 1; i <= dirs.length; i++) {
          const d = dirs.slice(0, i).join('/');
          const p = fs.paths.get(d);
          if (p && !p.dir) throw new StorageError(409, 'PathConflict', `${d} is a file.`);
          if (!p) fs.paths.set(d, { dir: true, data: Buffer.alloc(0), pending: new Map(), etag: etag(), modified: new Date() });
        }
        const ct = req.headers['x-ms-content-type'];
        fs.paths.set(path, { dir: false, data: Buffer.alloc(0), pending: new Map(), ...(typeof ct === 'string' ? { contentType: ct } : {}), etag: etag(), modified: new Date() });
        return this.reply(res, 201, { etag: fs.paths.get(path)!.etag });
      }
      if (req.method === 'PATCH') {
        const p = fs.paths.get(path);
        if (!p || p.dir) throw new StorageError(404, 'PathNotFound', 'The specified path does not exist.');
        const position = Number(q.get('position'));
        if (q.get('action') === 'append') {
          onlyParams(q, ['action', 'position']);
          if (!body.length) throw new StorageError(400, 'InvalidRequest', 'append needs a body');
          // Appends may arrive in any order (the SDK sends chunks in parallel); flush checks they join up.
          if (!Number.isInteger(position) || position < 0 || p.pending.has(position)) throw new StorageError(400, 'InvalidFlushPosition', `append at ${q.get('position')}`);
          p.pending.set(position, body);
          return this.reply(res, 202, {});
        }
        if (q.get('action') === 'flush') {
          onlyParams(q, ['action', 'position', 'close', 'retainUncommittedData']);
          if (body.length) throw new StorageError(400, 'InvalidRequest', 'flush takes no body');
          if (this.busyFlushes > 0) {
            this.busyFlushes--;
            throw new StorageError(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.');
          }
          const parts = [...p.pending].sort(([a], [b]) => a - b);
          let at = 0;
          for (const [pos, b] of parts) {
            if (pos !== at) throw new StorageError(400, 'InvalidFlushPosition', `the appended data has a gap or overlap at ${at}`);
            at += b.length;
          }
          if (position !== at) throw new StorageError(400, 'InvalidFlushPosition', `flush at ${position}, ${at} bytes appended`);
          p.data = Buffer.concat(parts.map(([, b]) => b));
          p.pending = new Map();
          const ct = req.headers['x-ms-content-type'];
          if (typeof ct === 'string') p.contentType = ct;
          p.etag = etag();
          p.modified = new Date();
          return this.reply(res, 200, { etag: p.etag, 'last-modified': p.modified.toUTCString() });
        }
        throw new StorageError(400, 'InvalidQueryParameterValue', `action ${q.get('action')} is not implemented by the fake`);
      }
      if (req.method === 'GET') {
        dfs = false;
        if ([...q.keys()].length) throw new StorageError(400, 'InvalidQueryParameterValue', `the fake reads whole files only (${url.search})`);
        if (req.headers['x-ms-range'] || req.headers.range) throw new StorageError(400, 'InvalidHeaderValue', 'the fake reads whole files only');
        const p = fs.paths.get(path);
        if (!p || p.dir) throw new StorageError(404, 'BlobNotFound', 'The specified blob does not exist.');
        res.writeHead(200, { ...this.common(), 'content-length': p.data.length, 'content-type': p.contentType ?? 'application/octet-stream', etag: `"${p.etag}"`, 'last-modified': p.modified.toUTCString(), 'x-ms-blob-type': 'BlockBlob', 'x-ms-resource-type': 'file' });
        res.end(p.data);
        return;
      }
      throw new StorageError(405, 'UnsupportedHttpVerb', `${req.method} is not implemented by the fake`);
    } catch (err) {
      const e = err instanceof StorageError ? err : new StorageError(500, 'InternalError', String(err));
      if (dfs) {
        res.writeHead(e.status, { ...this.common(), 'content-type': 'application/json;charset=utf-8', 'x-ms-error-code': e.code });
        res.end(JSON.stringify({ error: { code: e.code, message: `${e.message}\nRequestId:${randomUUID()}` } }));
      } else {
        res.writeHead(e.status, { ...this.common(), 'content-type': 'application/xml', 'x-ms-error-code': e.code });
        res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${e.code}</Code><Message>${e.message}</Message></Error>`);
      }
    }
  }

  private common(): Record<string, string> {
    return { 'x-ms-request-id': randomUUID(), 'x-ms-version': '2026-02-06', date: new Date().toUTCString() };
  }

  private reply(res: ServerResponse, status: number, headers: Record<string, string>): void {
    res.writeHead(status, { ...this.common(), 'content-length': '0', ...headers });
    res.end();
  }

  private list(res: ServerResponse, fs: FileSystem, q: URLSearchParams): void {
    const dir = q.get('directory') ?? '';
    const recursive = q.get('recursive');
    if (recursive !== 'true' && recursive !== 'false') throw new StorageError(400, 'InvalidQueryParameterValue', 'recursive must be true or false');
    if (dir && !fs.paths.get(dir)?.dir) throw new StorageError(404, 'PathNotFound', 'The specified path does not exist.');
    const under = dir ? `${dir}/` : '';
    const names = [...fs.paths.keys()].filter((k) => k.startsWith(under) && (recursive === 'true' || !k.slice(under.length).includes('/'))).sort();
    const from = q.get('continuation') ? Number(Buffer.from(q.get('continuation')!, 'base64').toString()) : 0;
    const max = Math.min(Number(q.get('maxResults') ?? 5000), this.pageSize);
    const page = names.slice(from, from + max);
    const headers: Record<string, string> = { ...this.common(), 'content-type': 'application/json;charset=utf-8' };
    if (from + max < names.length) headers['x-ms-continuation'] = Buffer.from(String(from + max)).toString('base64');
    res.writeHead(200, headers);
    res.end(JSON.stringify({
      paths: page.map((name) => {
        const p = fs.paths.get(name)!;
        return { name, ...(p.dir ? { isDirectory: 'true' } : {}), contentLength: String(p.data.length), etag: p.etag, lastModified: p.modified.toUTCString(), owner: '$superuser', group: '$superuser', permissions: 'rw-r-----' };
      }),
    }));
  }

  /**
   * Bearer: exactly the token the fake was told, over HTTPS only (Authorize with Microsoft Entra ID).
   * SharedKey: HMAC-SHA256 with the account key over the canonical request (Authorize with Shared Key).
   */
  private verify(req: IncomingMessage, url: URL, body: Buffer): void {
    const auth = String(req.headers.authorization ?? '');
    this.schemes.push(auth.split(' ')[0]!);
    if (auth.startsWith('Bearer ')) {
      if (!this.tls || !this.bearer || auth !== `Bearer ${this.bearer()}`) throw new StorageError(401, 'InvalidAuthenticationInfo', 'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.');
      if (!req.headers['x-ms-version']) throw new StorageError(400, 'MissingRequiredHeader', 'x-ms-version is required.');
      return;
    }
    const m = /^SharedKey ([^:]+):(.+)$/.exec(auth);
    if (!m || m[1] !== this.account) throw new StorageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request: no SharedKey Authorization header for this account.');
    if (!req.headers['x-ms-date'] || !req.headers['x-ms-version']) throw new StorageError(400, 'MissingRequiredHeader', 'x-ms-date and x-ms-version are required.');
    const h = (n: string) => String(req.headers[n] ?? '');
    const len = body.length ? String(body.length) : '';
    const msHeaders = Object.keys(req.headers).filter((k) => k.startsWith('x-ms-')).sort().map((k) => `${k}:${String(req.headers[k]).trim()}\n`).join('');
    const byName = new Map<string, string[]>();
    for (const [k, v] of url.searchParams) byName.set(k.toLowerCase(), [...(byName.get(k.toLowerCase()) ?? []), v]);
    const params = [...byName.keys()].sort().map((k) => `\n${k}:${byName.get(k)!.join(',')}`).join('');
    const toSign = [req.method, h('content-encoding'), h('content-language'), len, h('content-md5'), h('content-type'), h('date'), h('if-modified-since'), h('if-match'), h('if-none-match'), h('if-unmodified-since'), h('range')].join('\n') + '\n' + msHeaders + `/${this.account}${url.pathname}` + params;
    const want = createHmac('sha256', Buffer.from(this.key, 'base64')).update(toSign, 'utf8').digest('base64');
    if (want !== m[2]) throw new StorageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.');
  }
}

function onlyParams(q: URLSearchParams, allowed: string[]): void {
  for (const k of q.keys()) if (!allowed.includes(k)) throw new StorageError(400, 'InvalidQueryParameterValue', `unexpected query parameter ${k}`);
}

function etag(): string {
  return `0x8DC${randomUUID().replace(/-/g, '').slice(0, 13).toUpperCase()}`;
}
