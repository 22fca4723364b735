import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDeadline, type QueryFilter, type QueryHit, type QueryableStore } from '../../../core/query.js';
import { tsMicros } from '../../../helpers/hot-store.js';
import { FILTER_PARAMS, filterFromParams } from '../../../helpers/query-params.js';
import { viewOf } from './decode.js';
import { archiveRoot, type ConnectionFor, fetchFull, fetchMany, snapshotCommand, streamExport, type ExportFormat } from './export.js';
import { histogram, serviceMap, SORT_FIELDS, sortedPage, type SortField } from './scan.js';

/**
 * The traffic explorer: the page at /ui (static files built by `npm run build` into web/dist,
 * shipped in the npm package) and the JSON endpoints it calls under /api/v1/explore/.
 * The static files hold no data and are served to anyone who can reach the port; every endpoint
 * that reads the store is behind the query API's own bearer token check.
 */

export const UI_PATH = '/ui';
export const EXPLORE_PREFIX = '/api/v1/explore/';

/** web/dist, beside dist/ in the package and beside src/ in a checkout. */
const WEB_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../web/dist');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };

export function isUiPath(pathname: string): boolean {
  return pathname === UI_PATH || pathname.startsWith(UI_PATH + '/');
}

/** GET /ui → index.html; /ui/<file> → a file of web/dist (names only: no folders, no dot-files). */
export function serveUi(pathname: string, res: ServerResponse): void {
  const rest = pathname === UI_PATH ? '' : pathname.slice(UI_PATH.length + 1);
  const name = rest === '' ? 'index.html' : rest;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  const path = join(WEB_DIST, name);
  const ext = /\.[a-z]+$/.exec(name)?.[0] ?? '';
  let body: Buffer;
  try {
    if (!statSync(path).isFile() || !TYPES[ext]) throw new Error('not a file');
    body = readFileSync(path);
  } catch {
    const built = (() => { try { return statSync(join(WEB_DIST, 'index.html')).isFile(); } catch { return false; } })();
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(built ? 'not found' : 'the explorer page is not built: run `npm run build`');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[ext]!,
    'cache-control': name === 'index.html' ? 'no-store' : 'no-cache',
    // Everything comes from rrpipe itself: no CDN, no inline script. uPlot sets inline styles.
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}

export interface ExploreContext {
  store: QueryableStore;
  storeName: string;
  timeoutMs: number;
  defaultStart: string;
  maxLimit: number;
  /** Documents an aggregation reads at most. */
  scanLimit: number;
  /** Records an export writes at most; beyond, the page shows the `rrpipe snapshot` command. */
  exportLimit: number;
  archive?: string;
  connFor: ConnectionFor;
  send(res: ServerResponse, status: number, body: unknown): void;
}

class BadRequest extends Error {}

const EXTRA: Record<string, readonly string[]> = {
  histogram: ['buckets'],
  servicemap: [],
  table: ['sort', 'order', 'offset'],
  export: ['format'],
  command: ['format'],
};

function parse(url: URL, ctx: ExploreContext, extra: readonly string[]): { filter: QueryFilter & { start: Date; end: Date }; params: Record<string, string> } {
  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (!(FILTER_PARAMS as readonly string[]).includes(k) && !extra.includes(k)) throw new BadRequest(`unknown parameter "${k}" (known: ${[...FILTER_PARAMS, ...extra].join(', ')})`);
    if (k in params) throw new BadRequest(`parameter "${k}" given twice`);
    params[k] = v;
  }
  const now = Date.now();
  let f: QueryFilter;
  try {
    f = filterFromParams({ start: ctx.defaultStart, end: 'now', ...params }, { now, maxLimit: ctx.maxLimit, minLimit: 1 });
  } catch (err) {
    throw new BadRequest((err as Error).message);
  }
  return { filter: f as QueryFilter & { start: Date; end: Date }, params };
}

function intParam(v: string | undefined, def: number, name: string, max: number, min = 0): number {
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v) || Number(v) > max || Number(v) < min) throw new BadRequest(`invalid ${name} "${v}" (a whole number from ${min} to ${max})`);
  return Number(v);
}

/** The hit of an id, looked up in the one millisecond of its ts (the archive_uri comes from the store, never from the browser). */
async function findHit(ctx: ExploreContext, id: string, ts: string | undefined): Promise<QueryHit | undefined> {
  if (ts) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(ts)) throw new BadRequest(`invalid ts "${ts.slice(0, 40)}"`);
    const ms = Math.floor(tsMicros(ts.length === 20 ? ts.replace('Z', '.000000000Z') : ts) / 1000);
    let found: QueryHit | undefined;
    let after: string | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      const f: QueryFilter = { start: new Date(ms), end: new Date(ms + 1), limit: 1000, ...(after ? { after } : {}) };
      const page = await withDeadline(ctx.timeoutMs, (signal) => ctx.store.query(f, { signal }));
      found = page.hits.find((h) => h.doc.id === id);
      if (!page.next) break;
      after = page.next;
    }
    if (found) return found;
  }
  const rr = ctx.store.get ? await withDeadline(ctx.timeoutMs, (signal) => ctx.store.get!(id, { signal })) : undefined;
  return rr ? { doc: { id } as QueryHit['doc'], rrpair: rr } : undefined;
}

/** Handle GET /api/v1/explore/<what>; errors thrown here are answered by the query API's error mapping. */
export async function handleExplore(url: URL, res: ServerResponse, ctx: ExploreContext): Promise<void> {
  const what = url.pathname.slice(EXPLORE_PREFIX.length);
  const so = { timeoutMs: ctx.timeoutMs, maxDocs: ctx.scanLimit };
  try {
    if (what === 'histogram') {
      const { filter, params } = parse(url, ctx, EXTRA.histogram!);
      return ctx.send(res, 200, await histogram(ctx.store, filter, intParam(params.buckets, 60, 'buckets', 1000, 1), so));
    }
    if (what === 'servicemap') {
      const { filter } = parse(url, ctx, EXTRA.servicemap!);
      return ctx.send(res, 200, await serviceMap(ctx.store, filter, so));
    }
    if (what === 'table') {
      const { filter, params } = parse(url, ctx, EXTRA.table!);
      const sort = (params.sort ?? 'ts') as SortField;
      if (!(SORT_FIELDS as readonly string[]).includes(sort)) throw new BadRequest(`invalid sort "${sort}" (one of ${SORT_FIELDS.join(', ')})`);
      const order = params.order ?? 'asc';
      if (order !== 'asc' && order !== 'desc') throw new BadRequest(`invalid order "${order}" (asc or desc)`);
      const limit = filter.limit ?? 50;
      if (sort === 'ts' && order === 'asc') {
        // The stores' own order: one page read, cursor paging, fast whatever the number of matches.
        const page = await withDeadline(ctx.timeoutMs, (signal) => ctx.store.query({ ...filter, limit }, { signal }));
        return ctx.send(res, 200, { rows: page.hits.map((h) => h.doc), ...(page.next ? { next: page.next } : {}) });
      }
      if (filter.after) throw new BadRequest('"after" pages the ts ascending order only; other orders page with offset');
      const offset = intParam(params.offset, 0, 'offset', ctx.scanLimit);
      const page = await sortedPage(ctx.store, filter, sort, order === 'desc', offset, limit, so);
      return ctx.send(res, 200, { ...page, offset });
    }
    if (what.startsWith('rrpair/')) {
      let id: string;
      try {
        id = decodeURIComponent(what.slice('rrpair/'.length));
      } catch {
        throw new BadRequest('the id is not valid percent-encoding');
      }
      const hit = await findHit(ctx, id, url.searchParams.get('ts') ?? undefined);
      if (!hit) return ctx.send(res, 404, { error: `RRPair ${id} is not in store ${ctx.storeName}` });
      const full = await fetchFull(ctx.store, hit, ctx.connFor);
      return ctx.send(res, 200, { doc: hit.doc, from: full.from, view: viewOf(id, full.rrpair), rrpair: full.rrpair });
    }
    if (what === 'command' || what === 'export') {
      const { filter, params } = parse(url, ctx, EXTRA[what]!);
      const format = (params.format ?? 'raw_jsonl') as ExportFormat;
      if (format !== 'raw_jsonl' && format !== 'proxymock') throw new BadRequest(`invalid format "${format}" (raw_jsonl or proxymock)`);
      const first = await withDeadline(ctx.timeoutMs, (signal) => ctx.store.query({ ...filter, limit: 1 }, { signal }));
      const root = archiveRoot(ctx.archive, first.hits[0]?.doc.archive_uri);
      const cmd = snapshotCommand(filter, format, root);
      if (what === 'command') return ctx.send(res, 200, { ...cmd, export_limit: ctx.exportLimit });
      // Collect up to exportLimit hits (one more tells that the selection is larger).
      const { after: _ignored, ...whole } = filter;
      const hits = await scanHits(ctx, whole, ctx.exportLimit + 1);
      if (hits.length > ctx.exportLimit) return ctx.send(res, 413, { error: `the selection has more than ${ctx.exportLimit} records (export_limit): narrow it, or take it from the archive with the command below`, ...cmd });
      const rrpairs = await fetchMany(ctx.store, hits, ctx.connFor);
      await streamExport(rrpairs, { format, start: filter.start, end: filter.end, source: `query_api:${ctx.storeName}` }, res);
      return;
    }
    ctx.send(res, 404, { error: `not found: ${url.pathname.slice(0, 200)}` });
  } catch (err) {
    if (err instanceof BadRequest) return ctx.send(res, 400, { error: err.message });
    throw err;
  }
}

async function scanHits(ctx: ExploreContext, filter: QueryFilter, max: number): Promise<QueryHit[]> {
  const out: QueryHit[] = [];
  let after: string | undefined;
  for (;;) {
    const f: QueryFilter = { ...filter, limit: Math.min(1000, max - out.length) };
    if (after) f.after = after;
    else delete f.after;
    const page = await withDeadline(ctx.timeoutMs, (signal) => ctx.store.query(f, { signal }));
    out.push(...page.hits);
    if (!page.next || page.hits.length === 0 || out.length >= max) return out;
    after = page.next;
  }
}
