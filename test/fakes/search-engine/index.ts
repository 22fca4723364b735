/**
 * A strict wire-level fake of an Elasticsearch 8 / OpenSearch 2 node, written from the public REST
 * API documentation (bulk, index templates, ILM / ISM policies, data streams, search with the
 * bool/term/terms/range/regexp/match_all queries (term and terms also on _id), sort, size,
 * search_after, count, get document, and the terms / date_histogram (fixed_interval, offset) /
 * filter aggregations with sub-aggregations).
 * It answers with the headers the official clients check (`X-Elastic-Product: Elasticsearch`
 * from Elasticsearch) and refuses anything it does not implement with a 400 whose type is
 * `fake_unsupported_request`, also recorded in `unsupported` so a test can fail on it.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { readBody } from '../listen.js';

export type Flavor = 'elasticsearch' | 'opensearch';

export interface FakeAuth {
  basic?: { username: string; password: string };
  /** The base64 "id:key" value of `Authorization: ApiKey <value>`. */
  apiKey?: string;
  /** Require AWS Signature V4 for this region and service (es | aoss). Signature bytes are not recomputed. */
  sigv4?: { region: string; service: 'es' | 'aoss'; accessKeyId: string };
}

export interface BulkItemVerdict {
  status: number;
  type: string;
  reason: string;
}

export interface FakeOptions {
  flavor: Flavor;
  auth?: FakeAuth;
  /** Called for every bulk item before it is applied; return a verdict to fail it. */
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  bulkHook?: (item: { action: string; index: string; id?: string; source: Record<string, unknown> }) => BulkItemVerdict | undefined;
  /** As http.max_content_length: a larger request body is answered 413 with no body, as both engines do. */
  maxContentLength?: number;
  /** Listen on this port (default: any free one). */
  port?: number;
}

interface Mapping {
  properties?: Record<string, MappingField>;
  dynamic?: boolean | 'strict' | 'true' | 'false';
}
interface MappingField {
  type?: string;
  properties?: Record<string, MappingField>;
  enabled?: boolean;
  index?: boolean;
  fields?: Record<string, MappingField>;
  dynamic?: boolean | 'strict' | 'true' | 'false';
  format?: string;
}

export interface FakeIndex {
  name: string;
  mappings: Mapping;
  settings: Record<string, unknown>;
  docs: Map<string, { source: Record<string, unknown>; version: number; seq: number }>;
  dataStream?: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body?: unknown;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

const SEARCH_KEYS = new Set(['query', 'sort', 'size', 'from', 'search_after', 'track_total_hits', '_source', 'aggs']);

export class SearchEngineFake {
  readonly indices = new Map<string, FakeIndex>();
  readonly templates = new Map<string, Record<string, unknown>>();
  readonly ilmPolicies = new Map<string, Record<string, unknown>>();
  readonly ismPolicies = new Map<string, { policy: Record<string, unknown>; seqNo: number; primaryTerm: number }>();
  readonly dataStreams = new Map<string, string[]>();
  readonly requests: FakeRequest[] = [];
  /** Sizes of the requests refused with 413 (maxContentLength). */
  readonly tooLarge: number[] = [];
  readonly unsupported: string[] = [];
  /** Bulk requests received (each an array of actions). */
  bulkCalls = 0;
  private server?: Server;
  private seq = 0;
  url = '';

  constructor(readonly opts: FakeOptions) {}

  async start(): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.opts.tls ? createHttpsServer({ key: this.opts.tls.key, cert: this.opts.tls.cert }, handler) : createServer(handler);
    await new Promise<void>((r) => this.server!.listen(this.opts.port ?? 0, '127.0.0.1', () => r()));
    this.url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Every document of every index (or of those matching a pattern). */
  docs(pattern = '*'): { index: string; id: string; source: Record<string, unknown> }[] {
    const out: { index: string; id: string; source: Record<string, unknown> }[] = [];
    for (const ix of this.resolve(pattern, true)) for (const [id, d] of ix.docs) out.push({ index: ix.name, id, source: d.source });
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = await readBody(req);
    const u = new URL(req.url ?? '/', 'http://fake');
    const path = decodeURIComponent(u.pathname);
    const method = req.method ?? 'GET';
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
    if (this.opts.flavor === 'elasticsearch') {
      headers['x-elastic-product'] = 'Elasticsearch';
      const accept = String(req.headers.accept ?? '');
      if (accept.includes('compatible-with')) headers['content-type'] = 'application/vnd.elasticsearch+json;compatible-with=8';
    }
    const send = (status: number, body: unknown) => {
      const text = method === 'HEAD' ? '' : JSON.stringify(body);
      res.writeHead(status, headers);
      res.end(text);
    };
    try {
      this.checkAuth(req, raw);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      // Both engines decompress before aggregating the body, so the limit is on the decompressed size.
      if (this.opts.maxContentLength !== undefined && raw.length > this.opts.maxContentLength) {
        this.tooLarge.push(raw.length);
        res.writeHead(413, { 'content-length': '0' });
        res.end();
        return;
      }
      const ctype = String(req.headers['content-type'] ?? '');
      const text = raw.toString('utf8');
      const isBulk = /(^|\/)_bulk$/.test(path);
      let body: unknown;
      if (text.length) {
        if (isBulk) {
          if (!/x-ndjson/.test(ctype)) throw new HttpError(406, 'media_type_header_exception', `bulk needs Content-Type application/x-ndjson, got [${ctype}]`);
          body = text;
        } else {
          if (!/json/.test(ctype)) throw new HttpError(406, 'media_type_header_exception', `Content-Type header [${ctype}] is not supported`);
          try {
            body = JSON.parse(text);
          } catch (err) {
            throw new HttpError(400, 'parse_exception', `request body is not JSON: ${(err as Error).message}`);
          }
        }
      }
      this.checkVendorMediaType(req);
      this.requests.push({ method, path, query: u.searchParams, headers: req.headers, body });
      const [status, out] = this.route(method, path, u.searchParams, body);
      send(status, out);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'exception', (err as Error).stack ?? String(err));
      if (e.type === 'fake_unsupported_request') this.unsupported.push(`${method} ${req.url}: ${e.message}`);
      if (e.status === 401) headers['www-authenticate'] = 'Basic realm="security" charset="UTF-8"';
      send(e.status, { error: { root_cause: [{ type: e.type, reason: e.message }], type: e.type, reason: e.message }, status: e.status });
    }
  }

  /** Elasticsearch 8 accepts compatible-with=7 or 8 in vendor media types; OpenSearch has none of its own in 2.x. */
  private checkVendorMediaType(req: IncomingMessage): void {
    for (const h of [req.headers.accept, req.headers['content-type']]) {
      const m = /compatible-with=(\d+)/.exec(String(h ?? ''));
      if (!m) continue;
      if (this.opts.flavor === 'elasticsearch' && m[1] !== '7' && m[1] !== '8') {
        throw new HttpError(400, 'media_type_header_exception', `A compatible version is required on both Content-Type and Accept headers ... compatible-with=${m[1]} is not supported`);
      }
    }
  }

  private checkAuth(req: IncomingMessage, raw: Buffer): void {
    const a = this.opts.auth;
    if (!a) return;
    const h = String(req.headers.authorization ?? '');
    if (a.basic && h === `Basic ${Buffer.from(`${a.basic.username}:${a.basic.password}`).toString('base64')}`) return;
    if (a.apiKey && h === `ApiKey ${a.apiKey}`) return;
    if (a.sigv4) {
      const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(h);
      if (m && m[1] === a.sigv4.accessKeyId && m[3] === a.sigv4.region && m[4] === a.sigv4.service && req.headers['x-amz-date']) {
        const signed = m[5]!.split(';');
        if (!signed.includes('host') || !signed.includes('x-amz-date')) throw new HttpError(403, 'security_exception', 'SignedHeaders must include host and x-amz-date');
        // Amazon OpenSearch Serverless requires the payload hash header, and it must match the body.
        if (a.sigv4.service === 'aoss') {
          const want = createHash('sha256').update(raw).digest('hex');
          if (req.headers['x-amz-content-sha256'] !== want) throw new HttpError(403, 'security_exception', 'x-amz-content-sha256 missing or wrong');
        }
        return;
      }
      throw new HttpError(403, 'security_exception', 'The request signature we calculated does not match the signature you provided');
    }
    throw new HttpError(401, 'security_exception', 'missing authentication credentials for REST request');
  }

  private unsupported_(method: string, path: string, why = 'not implemented by the fake'): never {
    throw new HttpError(400, 'fake_unsupported_request', `${method} ${path}: ${why}`);
  }

  private route(method: string, path: string, q: URLSearchParams, body: unknown): [number, unknown] {
    const parts = path.split('/').filter(Boolean);
    const es = this.opts.flavor === 'elasticsearch';
    if (parts.length === 0) {
      if (method === 'GET' || method === 'HEAD') return [200, this.info()];
      this.unsupported_(method, path);
    }
    const [p0, p1, p2, p3] = parts;
    if (p0 === '_bulk' && parts.length === 1 && (method === 'POST' || method === 'PUT')) return [200, this.bulk(String(body ?? ''), undefined, q)];
    if (p0 === '_index_template' && p1 && parts.length === 2) return this.indexTemplate(method, p1, body);
    if (es && p0 === '_ilm' && p1 === 'policy' && p2 && parts.length === 3) return this.ilm(method, p2, body);
    if (!es && p0 === '_plugins' && p1 === '_ism' && p2 === 'policies' && p3 && parts.length === 4) return this.ism(method, p3, body, q);
    if (p0 === '_data_stream' && p1 && parts.length === 2) return this.dataStream(method, p1);
    if (p0 === '_search' && parts.length === 1 && (method === 'GET' || method === 'POST')) return [200, this.search('*', body, q)];
    if (p0 && !p0.startsWith('_')) {
      if (parts.length === 1) return this.indexOp(method, p0, body);
      if (p1 === '_bulk' && parts.length === 2 && (method === 'POST' || method === 'PUT')) return [200, this.bulk(String(body ?? ''), p0, q)];
      if (p1 === '_search' && parts.length === 2 && (method === 'GET' || method === 'POST')) return [200, this.search(p0, body, q)];
      if (p1 === '_count' && parts.length === 2 && (method === 'GET' || method === 'POST')) return [200, this.count(p0, body)];
      if (p1 === '_refresh' && parts.length === 2 && (method === 'POST' || method === 'GET')) return [200, { _shards: { total: 1, successful: 1, failed: 0 } }];
      if (p1 === '_doc' && p2 && parts.length === 3 && (method === 'GET' || method === 'HEAD')) return this.getDoc(p0, p2);
    }
    this.unsupported_(method, path);
  }

  private info(): unknown {
    if (this.opts.flavor === 'opensearch') {
      return {
        name: 'fake-node', cluster_name: 'fake', cluster_uuid: 'fake-uuid',
        version: { distribution: 'opensearch', number: '2.17.0', build_type: 'tar', lucene_version: '9.11.1', minimum_wire_compatibility_version: '7.10.0', minimum_index_compatibility_version: '7.0.0' },
        tagline: 'The OpenSearch Project: https://opensearch.org/',
      };
    }
    return {
      name: 'fake-node', cluster_name: 'fake', cluster_uuid: 'fake-uuid',
      version: { number: '8.15.0', build_flavor: 'default', build_type: 'tar', lucene_version: '9.11.1', minimum_wire_compatibility_version: '7.17.0', minimum_index_compatibility_version: '7.0.0' },
      tagline: 'You Know, for Search',
    };
  }

  // ---- templates, policies, data streams, indices -------------------------------------------

  private indexTemplate(method: string, name: string, body: unknown): [number, unknown] {
    if (method === 'PUT' || method === 'POST') {
      const b = asObject(body, 'index template');
      for (const k of Object.keys(b)) {
        if (!['index_patterns', 'template', 'priority', 'data_stream', 'composed_of', 'version', '_meta'].includes(k)) throw new HttpError(400, 'x_content_parse_exception', `[index_template] unknown field [${k}]`);
      }
      if (!Array.isArray(b.index_patterns) || b.index_patterns.length === 0) throw new HttpError(400, 'action_request_validation_exception', 'index patterns are missing');
      if (Array.isArray(b.composed_of) && b.composed_of.length) this.unsupported_(method, `/_index_template/${name}`, 'composed_of component templates');
      const t = asObject(b.template ?? {}, 'template');
      for (const k of Object.keys(t)) if (!['settings', 'mappings', 'aliases'].includes(k)) throw new HttpError(400, 'x_content_parse_exception', `[template] unknown field [${k}]`);
      if (t.mappings) checkMappings(t.mappings as Mapping, '');
      this.templates.set(name, b);
      return [200, { acknowledged: true }];
    }
    if (method === 'GET') {
      const t = this.templates.get(name);
      if (!t) throw new HttpError(404, 'resource_not_found_exception', `index template matching [${name}] not found`);
      return [200, { index_templates: [{ name, index_template: t }] }];
    }
    if (method === 'HEAD') return [this.templates.has(name) ? 200 : 404, {}];
    if (method === 'DELETE') {
      this.templates.delete(name);
      return [200, { acknowledged: true }];
    }
    this.unsupported_(method, `/_index_template/${name}`);
  }

  private ilm(method: string, name: string, body: unknown): [number, unknown] {
    if (method === 'PUT') {
      const b = asObject(body, 'ilm policy');
      const policy = asObject(b.policy, 'policy');
      const phases = asObject(policy.phases, 'phases');
      for (const [phase, def] of Object.entries(phases)) {
        if (!['hot', 'warm', 'cold', 'frozen', 'delete'].includes(phase)) throw new HttpError(400, 'x_content_parse_exception', `unknown phase [${phase}]`);
        const actions = asObject(asObject(def, phase).actions ?? {}, 'actions');
        for (const a of Object.keys(actions)) {
          const allowed = phase === 'delete' ? ['delete', 'wait_for_snapshot'] : ['rollover', 'set_priority', 'forcemerge', 'shrink', 'readonly', 'allocate', 'migrate'];
          if (!allowed.includes(a)) throw new HttpError(400, 'illegal_argument_exception', `invalid action [${a}] defined in phase [${phase}]`);
        }
        const minAge = (def as { min_age?: unknown }).min_age;
        if (minAge !== undefined && !/^\d+(ms|s|m|h|d)$/.test(String(minAge))) throw new HttpError(400, 'illegal_argument_exception', `failed to parse setting [min_age] with value [${minAge}] as a time value`);
      }
      this.ilmPolicies.set(name, policy);
      return [200, { acknowledged: true }];
    }
    if (method === 'GET') {
      const p = this.ilmPolicies.get(name);
      if (!p) throw new HttpError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${name}`);
      return [200, { [name]: { version: 1, modified_date: new Date().toISOString(), policy: p } }];
    }
    this.unsupported_(method, `/_ilm/policy/${name}`);
  }

  private ism(method: string, id: string, body: unknown, q: URLSearchParams): [number, unknown] {
    const existing = this.ismPolicies.get(id);
    if (method === 'PUT') {
      const b = asObject(body, 'ism policy');
      const policy = asObject(b.policy, 'policy');
      if (typeof policy.default_state !== 'string' || !Array.isArray(policy.states)) throw new HttpError(400, 'illegal_argument_exception', 'policy needs default_state and states');
      const names = new Set((policy.states as { name?: string }[]).map((s) => s.name));
      if (!names.has(policy.default_state as string)) throw new HttpError(400, 'illegal_argument_exception', `State with name [${policy.default_state}] does not exist`);
      for (const s of policy.states as { name?: string; actions?: unknown[]; transitions?: { state_name?: string; conditions?: Record<string, unknown> }[] }[]) {
        for (const a of s.actions ?? []) {
          const k = Object.keys(asObject(a, 'action')).filter((x) => x !== 'retry' && x !== 'timeout');
          for (const kind of k) if (!['delete', 'rollover', 'read_only', 'read_write', 'replica_count', 'force_merge', 'close', 'open', 'index_priority', 'notification', 'shrink', 'allocation', 'snapshot'].includes(kind)) throw new HttpError(400, 'illegal_argument_exception', `Invalid field: [${kind}] found in Actions.`);
        }
        for (const t of s.transitions ?? []) {
          if (!names.has(t.state_name)) throw new HttpError(400, 'illegal_argument_exception', `transition to unknown state [${t.state_name}]`);
          for (const c of Object.keys(t.conditions ?? {})) if (!['min_index_age', 'min_doc_count', 'min_size', 'min_rollover_age', 'cron'].includes(c)) throw new HttpError(400, 'illegal_argument_exception', `Invalid condition [${c}]`);
        }
      }
      if (existing) {
        // ISM updates need the current seq_no and primary_term (optimistic concurrency).
        if (q.get('if_seq_no') !== String(existing.seqNo) || q.get('if_primary_term') !== String(existing.primaryTerm)) {
          throw new HttpError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [1])`);
        }
      }
      const seqNo = (existing?.seqNo ?? -1) + 1;
      this.ismPolicies.set(id, { policy, seqNo, primaryTerm: 1 });
      return [existing ? 200 : 201, { _id: id, _version: seqNo + 1, _primary_term: 1, _seq_no: seqNo, policy: { policy } }];
    }
    if (method === 'GET') {
      if (!existing) throw new HttpError(404, 'status_exception', 'Policy not found');
      return [200, { _id: id, _version: existing.seqNo + 1, _seq_no: existing.seqNo, _primary_term: existing.primaryTerm, policy: existing.policy }];
    }
    this.unsupported_(method, `/_plugins/_ism/policies/${id}`);
  }

  private dataStream(method: string, name: string): [number, unknown] {
    if (method === 'PUT') {
      if (this.dataStreams.has(name)) throw new HttpError(400, 'resource_already_exists_exception', `data_stream [${name}] already exists`);
      this.createDataStream(name);
      return [200, { acknowledged: true }];
    }
    if (method === 'GET') {
      const b = this.dataStreams.get(name);
      if (!b) throw new HttpError(404, 'index_not_found_exception', `no such index [${name}]`);
      return [200, { data_streams: [{ name, timestamp_field: { name: '@timestamp' }, indices: b.map((i) => ({ index_name: i })), generation: b.length, status: 'GREEN' }] }];
    }
    this.unsupported_(method, `/_data_stream/${name}`);
  }

  private createDataStream(name: string): FakeIndex {
    const t = this.templateFor(name);
    if (!t?.data_stream) throw new HttpError(400, 'illegal_argument_exception', `no matching index template with data stream enabled found for [${name}]`);
    const backing = `.ds-${name}-000001`;
    const ix = this.newIndex(backing, t);
    ix.dataStream = name;
    this.dataStreams.set(name, [backing]);
    return ix;
  }

  private templateFor(name: string): Record<string, unknown> | undefined {
    let best: Record<string, unknown> | undefined;
    for (const t of this.templates.values()) {
      if ((t.index_patterns as string[]).some((p) => globMatch(p, name)) && (best === undefined || Number(t.priority ?? 0) > Number(best.priority ?? 0))) best = t;
    }
    return best;
  }

  private newIndex(name: string, t: Record<string, unknown> | undefined, body?: Record<string, unknown>): FakeIndex {
    const tt = (t?.template ?? {}) as { settings?: Record<string, unknown>; mappings?: Mapping };
    const mappings = (body?.mappings as Mapping | undefined) ?? structuredClone(tt.mappings ?? {});
    const ix: FakeIndex = { name, mappings, settings: { ...(tt.settings ?? {}), ...((body?.settings as Record<string, unknown>) ?? {}) }, docs: new Map() };
    this.indices.set(name, ix);
    return ix;
  }

  private indexOp(method: string, name: string, body: unknown): [number, unknown] {
    if (method === 'PUT') {
      if (this.indices.has(name)) throw new HttpError(400, 'resource_already_exists_exception', `index [${name}] already exists`);
      const b = body === undefined ? {} : asObject(body, 'create index');
      if (b.mappings) checkMappings(b.mappings as Mapping, '');
      this.newIndex(name, this.templateFor(name), b);
      return [200, { acknowledged: true, shards_acknowledged: true, index: name }];
    }
    if (method === 'HEAD') return [this.indices.has(name) || this.dataStreams.has(name) ? 200 : 404, {}];
    if (method === 'DELETE') {
      const list = this.resolve(name, false);
      for (const ix of list) this.indices.delete(ix.name);
      return [200, { acknowledged: true }];
    }
    this.unsupported_(method, `/${name}`);
  }

  /** Indices a target names: a name, a data stream, a comma list, wildcards. */
  private resolve(target: string, allowMissing: boolean): FakeIndex[] {
    const out = new Map<string, FakeIndex>();
    for (const part of target.split(',')) {
      if (part === '*' || part === '_all' || part.includes('*')) {
        for (const ix of this.indices.values()) if (part === '_all' || globMatch(part, ix.name) || (ix.dataStream && globMatch(part, ix.dataStream))) {
          if (!ix.name.startsWith('.') || part.startsWith('.') || ix.dataStream) out.set(ix.name, ix);
        }
        continue;
      }
      const ds = this.dataStreams.get(part);
      if (ds) {
        for (const b of ds) out.set(b, this.indices.get(b)!);
        continue;
      }
      const ix = this.indices.get(part);
      if (ix) out.set(part, ix);
      else if (!allowMissing) throw new HttpError(404, 'index_not_found_exception', `no such index [${part}]`);
    }
    return [...out.values()];
  }

  // ---- documents -------------------------------------------------------------------------------

  private bulk(text: string, defaultIndex: string | undefined, q: URLSearchParams): unknown {
    for (const k of q.keys()) if (!['refresh', 'timeout', 'pipeline', 'require_alias', 'filter_path', 'wait_for_active_shards'].includes(k)) this.unsupported_('POST', '/_bulk', `query parameter ${k}`);
    if (!text.endsWith('\n')) throw new HttpError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    this.bulkCalls++;
    const lines = text.split('\n');
    lines.pop();
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      let action: Record<string, Record<string, unknown>>;
      try {
        action = JSON.parse(lines[i]!);
      } catch {
        throw new HttpError(400, 'x_content_parse_exception', `Malformed action/metadata line [${i + 1}]`);
      }
      const kind = Object.keys(action)[0]!;
      if (Object.keys(action).length !== 1 || !['index', 'create', 'update', 'delete'].includes(kind)) {
        throw new HttpError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${kind}]`);
      }
      if (kind === 'update' || kind === 'delete') this.unsupported_('POST', '/_bulk', `action ${kind}`);
      const meta = action[kind]!;
      for (const k of Object.keys(meta)) if (!['_index', '_id', 'routing', 'pipeline', 'require_alias', 'dynamic_templates'].includes(k)) throw new HttpError(400, 'illegal_argument_exception', `Action/metadata line [${i + 1}] contains an unknown parameter [${k}]`);
      const index = (meta._index as string | undefined) ?? defaultIndex;
      if (!index) throw new HttpError(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      const srcLine = lines[++i];
      if (srcLine === undefined) throw new HttpError(400, 'illegal_argument_exception', `The bulk request must have a source line after action line [${i}]`);
      let source: Record<string, unknown>;
      try {
        source = JSON.parse(srcLine);
      } catch (err) {
        items.push({ [kind]: { _index: index, _id: meta._id ?? null, status: 400, error: { type: this.opts.flavor === 'elasticsearch' ? 'document_parsing_exception' : 'mapper_parsing_exception', reason: `failed to parse: ${(err as Error).message}` } } });
        errors = true;
        continue;
      }
      const r = this.applyItem(kind, index, meta._id as string | undefined, source);
      if (Number(r.status) >= 300) errors = true;
      items.push({ [kind]: r });
    }
    return { took: 1, errors, items };
  }

  private applyItem(kind: string, index: string, id: string | undefined, source: Record<string, unknown>): Record<string, unknown> {
    const fail = (status: number, type: string, reason: string) => ({ _index: index, _id: id ?? null, status, error: { type, reason, index } });
    const verdict = this.opts.bulkHook?.({ action: kind, index, id, source });
    if (verdict) return fail(verdict.status, verdict.type, verdict.reason);
    let ix: FakeIndex | undefined = this.indices.get(index);
    if (!ix && this.dataStreams.has(index)) ix = this.indices.get(this.dataStreams.get(index)!.at(-1)!);
    if (!ix) {
      const t = this.templateFor(index);
      if (t?.data_stream) {
        if (kind !== 'create') return fail(400, 'illegal_argument_exception', `only write ops with an op_type of create are allowed in data streams`);
        ix = this.createDataStream(index);
      } else ix = this.newIndex(index, t);
    } else if (ix.dataStream && kind !== 'create') {
      return fail(400, 'illegal_argument_exception', 'only write ops with an op_type of create are allowed in data streams');
    }
    if (ix.dataStream) {
      const ts = getPath(source, '@timestamp');
      if (ts === undefined) return fail(400, this.opts.flavor === 'elasticsearch' ? 'document_parsing_exception' : 'mapper_parsing_exception', 'data stream timestamp field [@timestamp] is missing');
    }
    const problem = checkDoc(ix.mappings, source);
    if (problem) return fail(400, this.opts.flavor === 'elasticsearch' ? 'document_parsing_exception' : 'mapper_parsing_exception', problem);
    const docId = id ?? createHash('sha1').update(String(++this.seq) + Math.random()).digest('base64url').slice(0, 20);
    const existing = ix.docs.get(docId);
    if (existing && kind === 'create') return fail(409, 'version_conflict_engine_exception', `[${docId}]: version conflict, document already exists (current version [${existing.version}])`);
    const version = (existing?.version ?? 0) + 1;
    ix.docs.set(docId, { source, version, seq: ++this.seq });
    return { _index: ix.name, _id: docId, _version: version, result: existing ? 'updated' : 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: this.seq, _primary_term: 1, status: existing ? 200 : 201 };
  }

  private getDoc(target: string, id: string): [number, unknown] {
    const ix = this.indices.get(target);
    if (!ix) {
      if (this.dataStreams.has(target)) throw new HttpError(400, 'illegal_argument_exception', 'GET by id is not supported on a data stream; use the backing index');
      throw new HttpError(404, 'index_not_found_exception', `no such index [${target}]`);
    }
    const d = ix.docs.get(id);
    if (!d) return [404, { _index: target, _id: id, found: false }];
    return [200, { _index: target, _id: id, _version: d.version, _seq_no: d.seq, _primary_term: 1, found: true, _source: d.source }];
  }

  // ---- search -------------------------------------------------------------------------------------

  private search(target: string, body: unknown, q: URLSearchParams): unknown {
    for (const k of q.keys()) if (!['ignore_unavailable', 'allow_no_indices', 'typed_keys', 'rest_total_hits_as_int', 'filter_path'].includes(k)) this.unsupported_('POST', `/${target}/_search`, `query parameter ${k}`);
    const b = body === undefined ? {} : asObject(body, 'search');
    for (const k of Object.keys(b)) if (!SEARCH_KEYS.has(k)) this.unsupported_('POST', `/${target}/_search`, `search body key ${k}`);
    if (b.from !== undefined && b.from !== 0) this.unsupported_('POST', `/${target}/_search`, 'from > 0');
    const indices = this.resolve(target, q.get('ignore_unavailable') === 'true' || target.includes('*'));
    const typeOf = (field: string) => fieldType(indices, field);
    const query = (b.query ?? { match_all: {} }) as Record<string, unknown>;
    const matcher = compileQuery(query, typeOf);
    let hits: { index: string; id: string; source: Record<string, unknown> }[] = [];
    // term and terms queries may name the _id metadata field (as the engines allow); the source holds no _id of its own.
    for (const ix of indices) for (const [id, d] of ix.docs) if (matcher({ ...d.source, _id: id })) hits.push({ index: ix.name, id, source: d.source });
    const total = hits.length;
    const sort = normalizeSort(b.sort);
    const sortValues = (h: { source: Record<string, unknown>; id: string }) =>
      sort.map((s) => sortValue(getPath(h.source, s.field), typeOf(s.field), s.field));
    if (sort.length) {
      for (const s of sort) if (s.field === '_id') throw new HttpError(400, 'illegal_argument_exception', 'Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled');
      const cmp = (a: unknown[], c: unknown[]) => {
        for (let i = 0; i < sort.length; i++) {
          const r = compareSortValues(a[i], c[i]);
          if (r !== 0) return sort[i]!.order === 'desc' ? -r : r;
        }
        return 0;
      };
      const withV = hits.map((h) => ({ h, v: sortValues(h) }));
      withV.sort((x, y) => cmp(x.v, y.v));
      let list = withV;
      if (b.search_after !== undefined) {
        const after = b.search_after;
        if (!Array.isArray(after) || after.length !== sort.length) throw new HttpError(400, 'illegal_argument_exception', `search_after has ${Array.isArray(after) ? after.length : 0} value(s) but sort has ${sort.length}`);
        const av = after.map((v, i) => afterValue(v, typeOf(sort[i]!.field)));
        list = withV.filter((x) => cmp(x.v, av) > 0);
      }
      hits = list.map((x) => Object.assign(x.h, { sort: x.v }));
    } else if (b.search_after !== undefined) {
      throw new HttpError(400, 'illegal_argument_exception', 'Sort must contain at least one field.');
    }
    const size = b.size === undefined ? 10 : Number(b.size);
    if (!Number.isInteger(size) || size < 0) throw new HttpError(400, 'illegal_argument_exception', `[size] parameter cannot be negative, found [${b.size}]`);
    if (size > 10_000) throw new HttpError(400, 'illegal_argument_exception', `Result window is too large, size must be less than or equal to: [10000] but was [${size}]`);
    const page = hits.slice(0, size);
    const aggregations = b.aggs === undefined ? undefined : aggregate(asObject(b.aggs, 'aggs'), hits.map((h) => h.source), typeOf);
    const exact = b.track_total_hits === true;
    return {
      ...(aggregations ? { aggregations } : {}),
      took: 1,
      timed_out: false,
      _shards: { total: indices.length, successful: indices.length, skipped: 0, failed: 0 },
      hits: {
        total: { value: exact ? total : Math.min(total, 10_000), relation: !exact && total > 10_000 ? 'gte' : 'eq' },
        max_score: sort.length ? null : 1,
        hits: page.map((h) => ({ _index: h.index, _id: h.id, _score: sort.length ? null : 1, _source: h.source, ...((h as { sort?: unknown[] }).sort ? { sort: (h as { sort?: unknown[] }).sort } : {}) })),
      },
    };
  }

  private count(target: string, body: unknown): unknown {
    const b = body === undefined ? {} : asObject(body, 'count');
    for (const k of Object.keys(b)) if (k !== 'query') this.unsupported_('POST', `/${target}/_count`, `count body key ${k}`);
    const indices = this.resolve(target, target.includes('*'));
    const matcher = compileQuery((b.query ?? { match_all: {} }) as Record<string, unknown>, (f) => fieldType(indices, f));
    let n = 0;
    for (const ix of indices) for (const d of ix.docs.values()) if (matcher(d.source)) n++;
    return { count: n, _shards: { total: indices.length, successful: indices.length, skipped: 0, failed: 0 } };
  }
}

// ---- helpers: mappings ---------------------------------------------------------------------------

const FIELD_TYPES = new Set(['keyword', 'text', 'date', 'date_nanos', 'long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'boolean', 'object', 'flattened', 'flat_object', 'match_only_text', 'ip', 'wildcard', 'constant_keyword']);

function checkMappings(m: Mapping | MappingField, path: string): void {
  for (const k of Object.keys(m)) {
    if (!['properties', 'dynamic', 'type', 'enabled', 'index', 'fields', 'format', 'ignore_above', 'doc_values', 'scaling_factor', 'value', '_source', 'dynamic_templates', 'store'].includes(k)) {
      throw new HttpError(400, 'mapper_parsing_exception', `unknown parameter [${k}] on mapper [${path || '_doc'}]`);
    }
  }
  const t = (m as MappingField).type;
  if (t !== undefined && !FIELD_TYPES.has(t)) throw new HttpError(400, 'mapper_parsing_exception', `No handler for type [${t}] declared on field [${path}]`);
  for (const [k, sub] of Object.entries(m.properties ?? {})) checkMappings(sub, path ? `${path}.${k}` : k);
  for (const [k, sub] of Object.entries((m as MappingField).fields ?? {})) checkMappings(sub, `${path}.${k}`);
}

/** Why a document does not fit the explicit mappings, or undefined. */
function checkDoc(m: Mapping, src: Record<string, unknown>): string | undefined {
  const walk = (props: Record<string, MappingField> | undefined, dynamic: unknown, obj: Record<string, unknown>, prefix: string): string | undefined => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const f = props?.[k];
      if (!f) {
        if (dynamic === 'strict') return `mapping set to strict, dynamic introduction of [${k}] within [${prefix || '_doc'}] is not allowed`;
        continue;
      }
      if (f.enabled === false || v === null) continue;
      if (f.properties || f.type === 'object') {
        if (typeof v !== 'object' || Array.isArray(v)) return `object mapping for [${path}] tried to parse field [${k}] as object, but found a concrete value`;
        const r = walk(f.properties, f.dynamic ?? dynamic, v as Record<string, unknown>, path);
        if (r) return r;
        continue;
      }
      const values = Array.isArray(v) ? v : [v];
      for (const x of values) {
        const bad = `failed to parse field [${path}] of type [${f.type}] in document. Preview of field's value: '${JSON.stringify(x)}'`;
        switch (f.type) {
          case 'keyword': case 'text': case 'match_only_text': case 'wildcard':
            if (typeof x === 'object') return bad;
            break;
          case 'long': case 'integer': case 'short': case 'byte':
            // Numbers are coerced (fractions truncated); strings must hold a number.
            if (typeof x !== 'number' && (typeof x !== 'string' || !/^-?\d+(\.\d+)?$/.test(x))) return bad;
            break;
          case 'double': case 'float': case 'half_float': case 'scaled_float':
            if (typeof x !== 'number' && (typeof x !== 'string' || Number.isNaN(Number(x)))) return bad;
            break;
          case 'date': case 'date_nanos':
            if (parseDateNs(x) === undefined) return bad;
            break;
          case 'boolean':
            if (typeof x !== 'boolean' && x !== 'true' && x !== 'false') return bad;
            break;
          default:
            break;
        }
      }
    }
    return undefined;
  };
  return walk(m.properties, m.dynamic ?? true, src, '');
}

function fieldType(indices: FakeIndex[], field: string): string | undefined {
  const lookup = (props: Record<string, MappingField> | undefined, parts: string[]): string | undefined => {
    const f = props?.[parts[0]!];
    if (!f) return undefined;
    if (parts.length === 1) return f.type ?? (f.properties ? 'object' : undefined);
    if (parts.length === 2 && f.fields?.[parts[1]!]) return f.fields[parts[1]!]!.type;
    return lookup(f.properties, parts.slice(1));
  };
  for (const ix of indices) {
    const t = lookup(ix.mappings.properties, field.split('.'));
    if (t) return t;
  }
  return undefined;
}

/** The value a multi-field or a field path reads from a source document. */
function getPath(src: Record<string, unknown>, field: string): unknown {
  if (field in src) return src[field];
  const parts = field.split('.');
  for (let i = parts.length - 1; i >= 1; i--) {
    const head = parts.slice(0, i).join('.');
    const v = head in src ? src[head] : undefined;
    if (v !== undefined) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const r = getPath(v as Record<string, unknown>, parts.slice(i).join('.'));
        if (r !== undefined) return r;
      } else if (i === parts.length - 1) {
        return v; // multi-field: "ts.sort" reads ts
      }
    }
  }
  return undefined;
}

// ---- helpers: dates, sort ------------------------------------------------------------------------

/** Epoch nanoseconds of a date value (RFC 3339 string with up to 9 fraction digits, or epoch millis). */
export function parseDateNs(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.round(v)) * 1_000_000n;
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return BigInt(v) * 1_000_000n;
  const m = /^(\d{4}-\d\d-\d\d)(?:T(\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?)?$/.exec(v);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${m[4] ?? 'Z'}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
}

interface SortSpec {
  field: string;
  order: 'asc' | 'desc';
}

function normalizeSort(sort: unknown): SortSpec[] {
  if (sort === undefined) return [];
  const list = Array.isArray(sort) ? sort : [sort];
  return list.map((s) => {
    if (typeof s === 'string') return { field: s, order: 'asc' as const };
    const o = asObject(s, 'sort');
    const [field, spec] = Object.entries(o)[0]!;
    if (typeof spec === 'string') {
      if (spec !== 'asc' && spec !== 'desc') throw new HttpError(400, 'parsing_exception', `invalid sort order [${spec}]`);
      return { field, order: spec };
    }
    const so = asObject(spec, 'sort spec');
    for (const k of Object.keys(so)) if (!['order', 'missing', 'unmapped_type'].includes(k)) throw new HttpError(400, 'fake_unsupported_request', `sort option ${k}`);
    return { field, order: (so.order as 'asc' | 'desc' | undefined) ?? 'asc' };
  });
}

/** The sort value Elasticsearch returns in a hit: epoch millis for date, epoch nanos for date_nanos, the value otherwise. */
function sortValue(v: unknown, type: string | undefined, field: string): unknown {
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null) return null;
  if (type === 'date') return Number(parseDateNs(v)! / 1_000_000n);
  if (type === 'date_nanos') return Number(parseDateNs(v)!);
  if (type === 'long' || type === 'integer' || type === 'double' || type === 'float') return Number(v);
  if (type === undefined) throw new HttpError(400, 'query_shard_exception', `No mapping found for [${field}] in order to sort on`);
  if (type === 'text') throw new HttpError(400, 'illegal_argument_exception', `Text fields are not optimised for operations that require per-document field data like aggregations and sorting`);
  return String(v);
}

function afterValue(v: unknown, type: string | undefined): unknown {
  if ((type === 'date' || type === 'date_nanos') && typeof v === 'string') {
    const ns = parseDateNs(v);
    if (ns === undefined) throw new HttpError(400, 'parse_exception', `failed to parse date field [${v}]`);
    return type === 'date' ? Number(ns / 1_000_000n) : Number(ns);
  }
  return v;
}

function compareSortValues(a: unknown, b: unknown): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1; // missing last
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---- helpers: queries ----------------------------------------------------------------------------

type Matcher = (src: Record<string, unknown>) => boolean;

function compileQuery(q: Record<string, unknown>, typeOf: (f: string) => string | undefined): Matcher {
  const keys = Object.keys(q);
  if (keys.length !== 1) throw new HttpError(400, 'parsing_exception', `query malformed, expected exactly one query clause, found [${keys.join(', ')}]`);
  const kind = keys[0]!;
  const body = q[kind];
  const values = (src: Record<string, unknown>, field: string): unknown[] => {
    const v = getPath(src, field);
    return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
  };
  const oneField = (b: unknown): [string, unknown] => {
    const o = asObject(b, kind);
    const fields = Object.keys(o).filter((k) => k !== 'boost' && k !== '_name');
    if (fields.length !== 1) throw new HttpError(400, 'parsing_exception', `[${kind}] query doesn't support multiple fields, found [${fields.join(', ')}]`);
    return [fields[0]!, o[fields[0]!]];
  };
  const eq = (field: string, want: unknown) => (got: unknown) => {
    const t = typeOf(field);
    if (t === 'date' || t === 'date_nanos') return parseDateNs(got) === parseDateNs(want);
    if (t === 'text') throw new HttpError(400, 'fake_unsupported_request', `term query on text field [${field}] (analysis is not implemented)`);
    return String(got) === String(want);
  };
  switch (kind) {
    case 'match_all':
      return () => true;
    case 'match_none':
      return () => false;
    case 'bool': {
      const b = asObject(body, 'bool');
      for (const k of Object.keys(b)) if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost'].includes(k)) throw new HttpError(400, 'parsing_exception', `[bool] query does not support [${k}]`);
      const list = (x: unknown) => (x === undefined ? [] : Array.isArray(x) ? x : [x]).map((c) => compileQuery(asObject(c, 'clause'), typeOf));
      const must = [...list(b.must), ...list(b.filter)];
      const should = list(b.should);
      const not = list(b.must_not);
      const msm = b.minimum_should_match !== undefined ? Number(b.minimum_should_match) : must.length ? 0 : 1;
      return (src) =>
        must.every((m) => m(src)) && !not.some((m) => m(src)) && (should.length === 0 || should.filter((m) => m(src)).length >= msm);
    }
    case 'term': {
      const [field, spec] = oneField(body);
      const want = spec !== null && typeof spec === 'object' ? (spec as { value?: unknown }).value : spec;
      if (spec !== null && typeof spec === 'object') for (const k of Object.keys(spec)) if (!['value', 'boost', 'case_insensitive'].includes(k)) throw new HttpError(400, 'parsing_exception', `[term] query does not support [${k}]`);
      const m = eq(field, want);
      return (src) => values(src, field).some(m);
    }
    case 'terms': {
      const [field, list] = oneField(body);
      if (!Array.isArray(list)) throw new HttpError(400, 'fake_unsupported_request', 'terms lookup');
      const ms = list.map((w) => eq(field, w));
      return (src) => values(src, field).some((v) => ms.some((m) => m(v)));
    }
    case 'range': {
      const [field, spec] = oneField(body);
      const r = asObject(spec, 'range');
      for (const k of Object.keys(r)) if (!['gte', 'gt', 'lte', 'lt', 'format', 'boost', 'time_zone'].includes(k)) throw new HttpError(400, 'parsing_exception', `[range] query does not support [${k}]`);
      if (r.format !== undefined && r.format !== 'strict_date_optional_time_nanos' && r.format !== 'strict_date_optional_time' && r.format !== 'epoch_millis') throw new HttpError(400, 'fake_unsupported_request', `range format ${String(r.format)}`);
      const t = typeOf(field);
      const isDate = t === 'date' || t === 'date_nanos';
      const conv = (x: unknown): bigint | number | string => {
        if (isDate) {
          const ns = parseDateNs(x);
          if (ns === undefined) throw new HttpError(400, 'parse_exception', `failed to parse date field [${String(x)}]`);
          // A date (millisecond) field compares at millisecond precision.
          return t === 'date' ? (ns / 1_000_000n) * 1_000_000n : ns;
        }
        return typeof x === 'number' ? x : String(x);
      };
      const bounds = (['gte', 'gt', 'lte', 'lt'] as const).filter((k) => r[k] !== undefined && r[k] !== null).map((k) => [k, conv(r[k])] as const);
      return (src) =>
        values(src, field).some((v) => {
          const x = conv(v);
          return bounds.every(([k, b]) => (k === 'gte' ? x >= b : k === 'gt' ? x > b : k === 'lte' ? x <= b : x < b));
        });
    }
    case 'regexp': {
      const [field, spec] = oneField(body);
      let pattern: string;
      let flags = 'ALL';
      let ci = false;
      if (typeof spec === 'string') pattern = spec;
      else {
        const s = asObject(spec, 'regexp');
        for (const k of Object.keys(s)) if (!['value', 'flags', 'case_insensitive', 'max_determinized_states', 'rewrite', 'boost'].includes(k)) throw new HttpError(400, 'parsing_exception', `[regexp] query does not support [${k}]`);
        pattern = String(s.value);
        if (s.flags !== undefined) flags = String(s.flags);
        ci = s.case_insensitive === true;
      }
      const t = typeOf(field);
      if (t !== 'keyword' && t !== 'wildcard' && t !== 'constant_keyword') {
        if (t === undefined) return () => false;
        throw new HttpError(400, 'fake_unsupported_request', `regexp on a [${t}] field`);
      }
      const re = luceneRegex(pattern, flags, ci);
      return (src) => values(src, field).some((v) => re.test(String(v)));
    }
    default:
      throw new HttpError(400, 'parsing_exception', `unknown query [${kind}] (the fake implements bool, term, terms, range, regexp, match_all)`);
  }
}

/**
 * Lucene regular expression syntax (the regexp query) to an anchored JS RegExp. Lucene patterns
 * always match the whole term; `^` and `$` are ordinary characters; `"…"` is a literal string.
 * With flags ALL (the default) `~ & @ < > #` are operators, which this fake does not implement.
 */
export function luceneRegex(p: string, flags: string, ci: boolean): RegExp {
  const enabled = new Set(flags.split('|').map((f) => f.trim().toUpperCase()));
  const ops = enabled.has('ALL') ? '~&@<>#' : [enabled.has('COMPLEMENT') ? '~' : '', enabled.has('INTERSECTION') ? '&' : '', enabled.has('ANYSTRING') ? '@' : '', enabled.has('INTERVAL') ? '<>' : '', enabled.has('EMPTY') ? '#' : ''].join('');
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[++i];
      if (n === undefined) throw new HttpError(400, 'query_shard_exception', `expected character after \\ in regexp [${p}]`);
      out += /[dDsSwW]/.test(n) ? `\\${n}` : /[A-Za-z0-9]/.test(n) ? n : `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' || c === '/' ? `\\${c}` : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '"') {
      const end = p.indexOf('"', i + 1);
      if (end < 0) throw new HttpError(400, 'query_shard_exception', `unterminated string in regexp [${p}]`);
      out += p.slice(i + 1, end).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i = end;
      continue;
    }
    if (ops.includes(c)) throw new HttpError(400, 'fake_unsupported_request', `regexp operator "${c}" (flags ${flags}) in [${p}]`);
    if ('^$/'.includes(c) || (!ops.includes(c) && '~&@<>#'.includes(c))) {
      out += `\\${c}`;
      continue;
    }
    out += c;
  }
  if (inClass) throw new HttpError(400, 'query_shard_exception', `expected ']' in regexp [${p}]`);
  try {
    return new RegExp(`^(?:${out})$`, ci ? 'i' : '');
  } catch (err) {
    throw new HttpError(400, 'query_shard_exception', `invalid regexp [${p}]: ${(err as Error).message}`);
  }
}

// ---- helpers: aggregations ----------------------------------------------------------------------

/** The terms, date_histogram and filter aggregations (with sub-aggregations) over the matching documents. */
function aggregate(aggs: Record<string, unknown>, docs: Record<string, unknown>[], typeOf: (f: string) => string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(aggs)) {
    const a = asObject(raw, `aggregation [${name}]`);
    const kinds = Object.keys(a).filter((k) => k !== 'aggs');
    if (kinds.length !== 1) throw new HttpError(400, 'parsing_exception', `Expected exactly one aggregation type in [${name}], found [${kinds.join(', ')}]`);
    const kind = kinds[0]!;
    const spec = asObject(a[kind], kind);
    const sub = a.aggs === undefined ? undefined : asObject(a.aggs, 'aggs');
    const withSub = (bucketDocs: Record<string, unknown>[]) => (sub ? aggregate(sub, bucketDocs, typeOf) : {});
    const only = (allowed: string[]) => {
      for (const k of Object.keys(spec)) if (!allowed.includes(k)) throw new HttpError(400, 'fake_unsupported_request', `${kind} aggregation option [${k}]`);
    };
    const field = String(spec.field ?? '');
    if (kind === 'terms') {
      only(['field', 'size']);
      const t = typeOf(field);
      if (t !== 'keyword') throw new HttpError(400, 'fake_unsupported_request', `terms aggregation on a [${t}] field [${field}]`);
      const size = spec.size === undefined ? 10 : Number(spec.size);
      const groups = new Map<string, Record<string, unknown>[]>();
      for (const d of docs) {
        const v = getPath(d, field);
        for (const x of v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]) {
          const k = String(x);
          const g = groups.get(k);
          if (g) g.push(d);
          else groups.set(k, [d]);
        }
      }
      const sorted = [...groups].sort((x, y) => y[1].length - x[1].length || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      const shown = sorted.slice(0, size);
      out[name] = {
        doc_count_error_upper_bound: 0,
        sum_other_doc_count: sorted.slice(size).reduce((n, [, ds]) => n + ds.length, 0),
        buckets: shown.map(([key, ds]) => ({ key, doc_count: ds.length, ...withSub(ds) })),
      };
    } else if (kind === 'date_histogram') {
      only(['field', 'fixed_interval', 'offset', 'min_doc_count']);
      const t = typeOf(field);
      if (t !== 'date' && t !== 'date_nanos') throw new HttpError(400, 'illegal_argument_exception', `Field [${field}] of type [${t}] is not supported for aggregation [date_histogram]`);
      const ms = (v: unknown, what: string) => {
        const m = /^(\d+)ms$/.exec(String(v ?? ''));
        if (!m) throw new HttpError(400, 'fake_unsupported_request', `date_histogram ${what} [${String(v)}] (the fake takes <n>ms)`);
        return Number(m[1]);
      };
      const interval = ms(spec.fixed_interval, 'fixed_interval');
      const offset = spec.offset === undefined ? 0 : ms(spec.offset, 'offset');
      if (spec.min_doc_count !== 1) throw new HttpError(400, 'fake_unsupported_request', 'date_histogram without min_doc_count 1 (empty buckets are not implemented)');
      const buckets = new Map<number, Record<string, unknown>[]>();
      for (const d of docs) {
        const ns = parseDateNs(getPath(d, field));
        if (ns === undefined) continue;
        const t0 = Number(ns / 1_000_000n);
        const key = Math.floor((t0 - offset) / interval) * interval + offset;
        const b = buckets.get(key);
        if (b) b.push(d);
        else buckets.set(key, [d]);
      }
      out[name] = { buckets: [...buckets].sort((x, y) => x[0] - y[0]).map(([key, ds]) => ({ key_as_string: new Date(key).toISOString(), key, doc_count: ds.length, ...withSub(ds) })) };
    } else if (kind === 'filter') {
      const m = compileQuery(spec, typeOf);
      const ds = docs.filter((d) => m(d));
      out[name] = { doc_count: ds.length, ...withSub(ds) };
    } else {
      throw new HttpError(400, 'fake_unsupported_request', `aggregation type [${kind}] (the fake implements terms, date_histogram, filter)`);
    }
  }
  return out;
}

// ---- helpers: misc -------------------------------------------------------------------------------

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'parsing_exception', `[${what}] expected an object`);
  return v as Record<string, unknown>;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

export async function startSearchEngineFake(opts: FakeOptions): Promise<SearchEngineFake> {
  const f = new SearchEngineFake(opts);
  await f.start();
  return f;
}
