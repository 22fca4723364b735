import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenFake, type FakeListener, readBody } from '../listen.js';
import { fieldsOf, matches, ODataError, parseFilter } from './odata.js';

/**
 * A strict wire fake of the Azure AI Search REST API (api-version 2026-04-01, the one
 * @azure/search-documents 13 sends), written from the REST reference
 * (learn.microsoft.com/rest/api/searchservice): GET /indexes('name'), POST /indexes,
 * POST /indexes('name')/docs/search.index (upload / merge / mergeOrUpload / delete, ≤ 1000
 * actions, ≤ 16 MB, 200 or 207 with a status per document) and
 * POST /indexes('name')/docs/search.post.search (search "*", a $filter in the subset odata.ts
 * parses, orderby on sortable fields, select, top ≤ 1000). Every request needs the api-version
 * and the api-key header; anything else is refused as the service would (400/403/404).
 */

interface Field { name: string; type: string; key?: boolean; searchable?: boolean; filterable?: boolean; sortable?: boolean; facetable?: boolean; retrievable?: boolean }
interface Index { name: string; fields: Map<string, Field>; key: string; docs: Map<string, Record<string, unknown>> }

const API_VERSION = '2026-04-01';
const TYPES = new Set(['Edm.String', 'Edm.Int32', 'Edm.Int64', 'Edm.Double', 'Edm.Boolean', 'Edm.DateTimeOffset']);
const FIELD_KEYS = new Set(['name', 'type', 'key', 'searchable', 'filterable', 'sortable', 'facetable', 'retrievable', 'stored', 'analyzer']);
const ACTIONS = new Set(['upload', 'merge', 'mergeOrUpload', 'delete']);
const MAX_TERM = 32766;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export class FakeAiSearch {
  private listener?: FakeListener;
  port = 0;
  readonly indexes = new Map<string, Index>();
  readonly requests: { method: string; path: string; body?: unknown }[] = [];
  /** Answer the next n index batches with 503 and Retry-After (whole request throttled). */
  throttleBatches = 0;
  /** Fail the next n documents of index batches with a per-document 503 (in a 207). */
  throttleItems = 0;
  throttled = 0;
  down = false;
  cut = 0;

  constructor(readonly apiKey = 'test-admin-key') {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.listener = await listenFake((req, res) => this.handle(req, res));
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  docs(index: string): Record<string, unknown>[] {
    return [...(this.indexes.get(index)?.docs.values() ?? [])];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.down) {
      this.cut++;
      req.socket.destroy();
      return;
    }
    const raw = await readBody(req);
    try {
      const url = new URL(req.url ?? '/', this.endpoint);
      if (url.searchParams.get('api-version') !== API_VERSION) throw new HttpError(400, `Invalid or missing api-version query string parameter (expected ${API_VERSION}).`);
      if ([...url.searchParams.keys()].some((k) => k !== 'api-version')) throw new HttpError(400, `unexpected query parameters in ${url.search}`);
      if (req.headers['api-key'] !== this.apiKey) throw new HttpError(403, 'Authorization failed: the api-key header is missing or wrong.');
      const path = decodeURIComponent(url.pathname);
      let body: unknown;
      if (req.method === 'POST') {
        if (!String(req.headers['content-type']).startsWith('application/json')) throw new HttpError(400, 'Content-Type must be application/json');
        if (raw.length > 16 * 1024 * 1024) throw new HttpError(413, 'The request is too large: the limit is 16 MB.');
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new HttpError(400, 'The request body is not valid JSON.');
        }
      }
      this.requests.push({ method: req.method ?? '', path, body });
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && path === '/indexes') return this.send(res, 201, this.createIndex(body as Record<string, unknown>));
      if (req.method === 'GET' && (m = /^\/indexes\('([^']+)'\)$/.exec(path))) return this.send(res, 200, this.describe(this.index(m[1]!)));
      if (req.method === 'POST' && (m = /^\/indexes\('([^']+)'\)\/docs\/search\.index$/.exec(path))) {
        const r = this.indexBatch(this.index(m[1]!), body as Record<string, unknown>);
        return this.send(res, r.every((x) => x.status) ? 200 : 207, { value: r });
      }
      if (req.method === 'POST' && (m = /^\/indexes\('([^']+)'\)\/docs\/search\.post\.search$/.exec(path))) return this.send(res, 200, this.search(this.index(m[1]!), body as Record<string, unknown>));
      throw new HttpError(404, `No route for ${req.method} ${path}`);
    } catch (err) {
      const e = err instanceof HttpError ? err : err instanceof ODataError ? new HttpError(400, err.message) : new HttpError(500, String(err));
      res.writeHead(e.status, { 'content-type': 'application/json; odata.metadata=minimal', ...e.headers });
      res.end(JSON.stringify({ error: { code: '', message: e.message } }));
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; odata.metadata=none' });
    res.end(JSON.stringify(body));
  }

  private index(name: string): Index {
    const i = this.indexes.get(name);
    if (!i) throw new HttpError(404, `The index '${name}' for service 'fake' was not found.`);
    return i;
  }

  private describe(i: Index) {
    return { name: i.name, fields: [...i.fields.values()] };
  }

  private createIndex(body: Record<string, unknown>) {
    const name = body?.name;
    if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,127}$/.test(name)) throw new HttpError(400, `Invalid index name '${String(name)}'.`);
    if (this.indexes.has(name)) throw new HttpError(409, `Cannot create index '${name}' because it already exists.`);
    for (const k of Object.keys(body)) if (k !== 'name' && k !== 'fields') throw new HttpError(400, `The fake does not implement index property '${k}'.`);
    const fields = new Map<string, Field>();
    for (const f of (body.fields ?? []) as Field[]) {
      for (const k of Object.keys(f)) if (!FIELD_KEYS.has(k)) throw new HttpError(400, `Unknown field property '${k}'.`);
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(f.name)) throw new HttpError(400, `Invalid field name '${f.name}'.`);
      if (!TYPES.has(f.type)) throw new HttpError(400, `Field '${f.name}' has an unsupported type '${f.type}'.`);
      if (f.searchable && f.type !== 'Edm.String') throw new HttpError(400, `Field '${f.name}' of type ${f.type} cannot be searchable.`);
      if (fields.has(f.name)) throw new HttpError(400, `Field '${f.name}' is defined twice.`);
      fields.set(f.name, f);
    }
    const keys = [...fields.values()].filter((f) => f.key);
    if (keys.length !== 1 || keys[0]!.type !== 'Edm.String') throw new HttpError(400, 'An index needs exactly one key field of type Edm.String.');
    const i: Index = { name, fields, key: keys[0]!.name, docs: new Map() };
    this.indexes.set(name, i);
    return this.describe(i);
  }

  private indexBatch(i: Index, body: Record<string, unknown>) {
    const value = body?.value;
    if (!Array.isArray(value) || value.length === 0) throw new HttpError(400, 'The request must contain a non-empty "value" array.');
    if (value.length > 1000) throw new HttpError(400, `The request contains ${value.length} actions; the limit is 1000.`);
    if (this.throttleBatches > 0) {
      this.throttleBatches--;
      this.throttled++;
      throw new HttpError(503, 'The service is too busy to process the request.', { 'retry-after': '0' });
    }
    return value.map((a: Record<string, unknown>) => {
      const action = a['@search.action'];
      if (typeof action !== 'string' || !ACTIONS.has(action)) throw new HttpError(400, `Invalid @search.action '${String(action)}'.`);
      const key = a[i.key];
      if (typeof key !== 'string' || !/^[A-Za-z0-9_\-=]{1,1024}$/.test(key)) {
        return { key: String(key), status: false, errorMessage: `Invalid document key: '${String(key)}'. Keys can only contain letters, digits, underscore (_), dash (-), or equal sign (=).`, statusCode: 400 };
      }
      if (this.throttleItems > 0) {
        this.throttleItems--;
        this.throttled++;
        return { key, status: false, errorMessage: 'Service Unavailable', statusCode: 503 };
      }
      const doc: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(a)) {
        if (k === '@search.action') continue;
        const f = i.fields.get(k);
        if (!f) throw new HttpError(400, `The request is invalid. Details: The property '${k}' does not exist on type 'search.documentFields'.`);
        const ok = v === null || (f.type === 'Edm.String' ? typeof v === 'string' : f.type === 'Edm.Int64' || f.type === 'Edm.Int32' ? Number.isInteger(v) : f.type === 'Edm.Double' ? typeof v === 'number' : f.type === 'Edm.Boolean' ? typeof v === 'boolean' : typeof v === 'string');
        if (!ok) throw new HttpError(400, `The request is invalid. Details: Cannot convert the literal '${String(v)}' to the expected type '${f.type}'.`);
        if (typeof v === 'string' && (f.filterable || f.sortable || f.facetable) && Buffer.byteLength(v) > MAX_TERM) {
          return { key, status: false, errorMessage: `Field '${k}' contains a term that is too large to process. The max length for UTF-8 encoded terms is ${MAX_TERM} bytes.`, statusCode: 400 };
        }
        doc[k] = v;
      }
      if (action === 'delete') i.docs.delete(key);
      else if (action === 'merge' && !i.docs.has(key)) return { key, status: false, errorMessage: 'Document not found.', statusCode: 404 };
      else if (action === 'upload') i.docs.set(key, doc);
      else i.docs.set(key, { ...(i.docs.get(key) ?? {}), ...doc });
      return { key, status: true, errorMessage: null, statusCode: action === 'upload' ? 201 : 200 };
    });
  }

  private search(i: Index, body: Record<string, unknown>) {
    for (const k of Object.keys(body ?? {})) if (!['search', 'filter', 'orderby', 'select', 'top', 'skip'].includes(k)) throw new HttpError(400, `The fake does not implement search parameter '${k}'.`);
    if (body.search !== undefined && body.search !== '*') throw new HttpError(400, 'The fake implements search "*" only.');
    let docs = [...i.docs.values()];
    if (body.filter !== undefined) {
      const e = parseFilter(String(body.filter));
      for (const f of fieldsOf(e)) {
        const fd = i.fields.get(f);
        if (!fd) throw new HttpError(400, `Invalid expression: Could not find a property named '${f}' on type 'search.document'.`);
        if (!fd.filterable) throw new HttpError(400, `Invalid expression: The field '${f}' is not filterable.`);
      }
      docs = docs.filter((d) => matches(e, d));
    }
    if (body.orderby !== undefined) {
      const keys = String(body.orderby).split(',').map((s) => {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?: (asc|desc))?$/.exec(s.trim());
        if (!m) throw new HttpError(400, `Invalid expression: '${s}' is not a valid orderby clause.`);
        if (!i.fields.get(m[1]!)?.sortable) throw new HttpError(400, `Invalid expression: The field '${m[1]}' is not sortable.`);
        return { f: m[1]!, dir: m[2] === 'desc' ? -1 : 1 };
      });
      docs.sort((a, b) => {
        for (const k of keys) {
          const x = a[k.f] as string | number;
          const y = b[k.f] as string | number;
          if (x !== y) return (x < y ? -1 : 1) * k.dir;
        }
        return 0;
      });
    }
    const top = body.top === undefined ? 50 : body.top;
    if (!Number.isInteger(top) || (top as number) < 0 || (top as number) > 1000) throw new HttpError(400, 'top must be 0 to 1000.');
    const skip = (body.skip as number | undefined) ?? 0;
    const select = body.select === undefined ? [...i.fields.keys()] : String(body.select).split(',');
    for (const s of select) if (!i.fields.has(s)) throw new HttpError(400, `Invalid expression: Could not find a property named '${s}' on type 'search.document'.`);
    return { value: docs.slice(skip, skip + (top as number)).map((d) => ({ '@search.score': 1, ...Object.fromEntries(select.map((s) => [s, d[s] ?? null])) })) };
  }
}
