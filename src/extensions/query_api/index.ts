import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Component, ExtensionFactory, Host } from '../../core/component.js';
import { address, duration, int, obj, secret, str, tlsServer, type Config } from '../../config/fragments.js';
import { isQueryableStore, QueryTimeoutError, withDeadline, type QueryableStore } from '../../core/query.js';
import type { ComponentMetrics } from '../../core/telemetry.js';
import { UnsupportedRegexError } from '../../helpers/linear-regex.js';
import { isLoopback } from '../../config/exposure.js';
import { listenHttp } from '../../helpers/net.js';
import { serverTlsOptions } from '../../helpers/tls.js';
import { FILTER_PARAMS, filterFromParams } from '../../helpers/query-params.js';
import type { StoreConnection } from '../../layouts/uri.js';
import { EXPLORE_PREFIX, handleExplore, isUiPath, serveUi } from './ui/routes.js';

const PREFIX = '/api/v1/rrpairs';

/**
 * Constant-time comparison of the Authorization header's credentials with the bearer token; the
 * scheme name is case-insensitive (RFC 7235 section 2.1: `bearer x` is `Bearer x`).
 */
function tokenMatches(header: string | undefined, token: string): boolean {
  const h = header ?? '';
  const sp = h.indexOf(' ');
  if (sp < 0 || h.slice(0, sp).toLowerCase() !== 'bearer') return false;
  const got = Buffer.from(h.slice(sp + 1));
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
const EXTRA_PARAMS = new Set(['full']);

/**
 * GET /api/v1/rrpairs?start=-1h&service=…&limit=…&after=… → the index documents of a short-term
 * store (the exporter named by `store`), a page at a time; GET /api/v1/rrpairs/<id> → one RRPair.
 */
export function createQueryApi(config: QueryApiConfig, onListening?: (port: number) => void, metrics?: ComponentMetrics): Component & { port?: number } {
  const timeouts = metrics?.counter('query_timeouts', 'Queries stopped at their deadline (answered 503).');
  const timeoutMs = config.timeout ?? 5_000;
  let server: Awaited<ReturnType<typeof listenHttp>> | undefined;
  let host: Host | undefined;

  const storeOf = (): QueryableStore | undefined => {
    const c = host?.getExporterComponent?.(config.store);
    return isQueryableStore(c) ? c : undefined;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const explore = url.pathname.startsWith(EXPLORE_PREFIX);
    if (isUiPath(url.pathname) && (req.method === 'GET' || req.method === 'HEAD')) return serveUi(url.pathname, res);
    if (!explore && url.pathname !== PREFIX && !url.pathname.startsWith(PREFIX + '/')) return send(res, 404, { error: `not found: the API is at ${PREFIX}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, { error: 'only GET' });
    }
    if (config.bearer_token && !tokenMatches(req.headers.authorization, config.bearer_token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'missing or wrong bearer token' });
    }
    const store = storeOf();
    if (!store) return send(res, 503, { error: `store ${config.store} is not running` });
    try {
      if (explore) {
        const ctx = { store, storeName: config.store, timeoutMs, defaultStart: config.default_start, maxLimit: config.max_limit, scanLimit: config.scan_limit ?? 1_000_000, exportLimit: config.export_limit ?? 10_000, archive: config.archive, connFor: (uri: string) => (host?.archiveConnection?.(uri) ?? {}) as StoreConnection, send };
        return await handleExplore(url, res, ctx);
      }
      if (url.pathname.length > PREFIX.length + 1) {
        let id: string;
        try {
          id = decodeURIComponent(url.pathname.slice(PREFIX.length + 1));
        } catch {
          return send(res, 400, { error: `the id in ${url.pathname.slice(0, 200)} is not valid percent-encoding` });
        }
        const rr = store.get ? await withDeadline(timeoutMs, (signal) => store.get!(id, { signal })) : undefined;
        if (!rr) return send(res, 404, { error: `RRPair ${id} is not in store ${config.store}` });
        return send(res, 200, rr);
      }
      const params: Record<string, string> = {};
      for (const [k, v] of url.searchParams) {
        if (!(FILTER_PARAMS as readonly string[]).includes(k) && !EXTRA_PARAMS.has(k)) {
          return send(res, 400, { error: `unknown parameter "${k}" (known: ${[...FILTER_PARAMS, ...EXTRA_PARAMS].join(', ')})` });
        }
        if (k in params) return send(res, 400, { error: `parameter "${k}" given twice` });
        params[k] = v;
      }
      let filter;
      try {
        filter = filterFromParams({ start: config.default_start, ...params }, { maxLimit: config.max_limit, minLimit: 1 });
      } catch (err) {
        return send(res, 400, { error: (err as Error).message });
      }
      filter.limit ??= config.default_limit;
      const full = params.full === 'true' || params.full === '1';
      const page = await withDeadline(timeoutMs, (signal) => store.query(filter, { signal }));
      let nextUrl: string | undefined;
      if (page.next) {
        const q = new URLSearchParams(params);
        q.set('after', page.next);
        nextUrl = `${PREFIX}?${q.toString()}`;
      }
      return send(res, 200, {
        store: config.store,
        count: page.hits.length,
        hits: page.hits.map((h) => (full && h.rrpair ? { ...h.doc, rrpair: h.rrpair } : h.doc)),
        ...(page.next ? { next: page.next, next_url: nextUrl } : {}),
      });
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof QueryTimeoutError) {
        timeouts?.inc();
        res.setHeader('retry-after', '1');
        return send(res, 503, { error: msg });
      }
      return send(res, /paging token/.test(msg) || err instanceof UnsupportedRegexError ? 400 : 500, { error: msg });
    }
  };

  const ext: Component & { port?: number } = {
    async start(h: Host) {
      host = h;
      if (!h.getExporter(config.store)) throw new Error(`store: no exporter "${config.store}" in the config`);
      if (!storeOf()) throw new Error(`store: exporter "${config.store}" is not a queryable short-term store`);
      server = await listenHttp(config.endpoint, 8088, (req, res) => {
        handle(req, res).catch((err) => {
          if (!res.headersSent) send(res, 500, { error: String(err) });
          else res.destroy();
        });
      }, serverTlsOptions(config.tls));
      ext.port = server.port;
      onListening?.(ext.port);
    },
    async shutdown() {
      const s = server;
      server = undefined;
      await s?.close();
    },
  };
  return ext;
}

const schema = obj(
  {
    endpoint: address('localhost:8088', 'host:port to listen on.'),
    store: str(undefined, 'Id of the exporter whose store is searched (embedded, opensearch/…, elasticsearch/…).'),
    default_limit: int(100, 'Page size when the request gives no limit.', { minimum: 1 }),
    max_limit: int(1000, 'Largest page a request may ask for.', { minimum: 1, maximum: 10_000 }),
    default_start: str('-1h', 'Start of the window when the request gives none.'),
    bearer_token: secret('When set, requests need Authorization: Bearer <token>.'),
    tls: tlsServer(),
    timeout: duration('5s', 'A query running longer is stopped and answered 503 (counted in rrpipe_query_timeouts_total).'),
    archive: str(undefined, 'Long-term archive root the records are archived in (s3://…, gs://…, azblob://…, a directory), named in the explorer\'s `rrpipe snapshot` command; a file:// archive is found from archive_uri.'),
    scan_limit: int(1_000_000, 'Index documents the explorer\'s histogram, service map and sorted table read at most per request.', { minimum: 1 }),
    export_limit: int(10_000, 'Records the explorer exports at most; a larger selection is answered with the `rrpipe snapshot` command.', { minimum: 1 }),
  },
  { required: ['store'] },
);

export type QueryApiConfig = Config<typeof schema>;

export const factory: ExtensionFactory<QueryApiConfig> = {
  kind: 'extension',
  type: 'query_api',
  stability: 'alpha',
  description: 'HTTP API over a short-term store: GET /api/v1/rrpairs (JSON, paged) and /api/v1/rrpairs/<id>, for dashboards; the traffic explorer page at /ui.',
  schema,
  validate(c) {
    // The API serves captured traffic: beyond loopback it needs a token (an empty one, e.g. an unset
    // ${env:…:-}, counts as none).
    if (!c.bearer_token && !isLoopback(c.endpoint)) {
      return [{ path: ['endpoint'], message: `listens on ${c.endpoint}, beyond loopback, without bearer_token: set bearer_token, or listen on localhost (kubectl port-forward reaches it)` }];
    }
    return [];
  },
  create: (s) => createQueryApi(s.config, (port) => s.logger.info({ port, store: s.config.store }, 'query API listening'), s.metrics),
};
