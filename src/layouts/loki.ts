import type { RRRecord } from '../core/record.js';
import { newRecord } from '../core/record.js';
import { IDENTITY_FIELDS, isUnset, type RRPair } from '../rrpair/types.js';
import type { RecordFilterConfig } from './filter.js';
import type { ObjectItem } from './reader.js';

/**
 * Reading RRPairs back from Loki (what the loki exporter wrote), as the Speedscale BYOC grafana
 * chart's loki-gather script does: `query_range` with a LogQL query (by default
 * `{service=~".+"} | json`), newest first in pages of 25 lines with a timestamp cursor, the page
 * halved when Loki answers ResourceExhausted (its ~4 MiB response cap); each line's `body` is the
 * RRPair (the loki exporter's line) or the line is the RRPair (Loki 3's OTLP endpoint), and cluster / namespace / service left "undefined" in it come from the stream labels.
 *
 * The address: `loki://host:port[/path]?query=<LogQL>&tenant=<X-Scope-OrgID>` (`loki+https://`
 * for TLS).
 */

export interface LokiLocation {
  /** Base URL of the Loki HTTP API (http://host:port[/path]). */
  base: string;
  query?: string;
  tenant?: string;
  /** Lines per page (default 25). */
  pageLines?: number;
}

export function isLokiUri(uri: string): boolean {
  return /^loki(\+https?)?:\/\//i.test(uri);
}

export function parseLokiUri(uri: string): LokiLocation {
  const m = /^loki(?:\+(https?))?:\/\/(.+)$/i.exec(uri);
  if (!m) throw new Error(`${uri}: not a loki:// address`);
  const u = new URL(`${(m[1] ?? 'http').toLowerCase()}://${m[2]}`);
  // Parameters are %-decoded but a "+" stays a "+" (not a space): `query={service=~".+"}` works as typed.
  const params = new Map<string, string>();
  for (const part of u.search.replace(/^\?/, '').split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    if (!['query', 'tenant', 'page'].includes(k)) throw new Error(`${uri}: unknown parameter "${k}" (expected query, tenant, page)`);
    params.set(k, eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1)));
  }
  const page = params.get('page');
  const loc: LokiLocation = { base: `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}` };
  if (params.get('query')) loc.query = params.get('query')!;
  if (params.get('tenant')) loc.tenant = params.get('tenant')!;
  if (page) {
    if (!/^\d+$/.test(page) || Number(page) < 1) throw new Error(`${uri}: page must be a positive number of lines`);
    loc.pageLines = Number(page);
  }
  return loc;
}

const quoteLogQL = (v: string) => JSON.stringify(v);

/**
 * The gather script's query for these filters: exact cluster / service / namespace as stream
 * matchers (Loki's index), `service=~".+"` when none, then `| json`. The other filters are applied
 * to the records afterwards.
 */
export function defaultLogQL(filter: RecordFilterConfig = {}): string {
  const stream: string[] = [];
  for (const f of ['cluster', 'service', 'namespace'] as const) {
    const v = filter[f];
    if (v?.length === 1 && !v[0]!.includes('*')) stream.push(`${f}=${quoteLogQL(v[0]!)}`);
  }
  if (!stream.length) stream.push('service=~".+"');
  return `{${stream.join(', ')}} | json`;
}

interface QueryRangeAnswer {
  status?: string;
  data?: { resultType?: string; result?: { stream?: Record<string, string>; values?: [string, string][] }[] };
}

class LokiHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function queryPage(loc: LokiLocation, query: string, startNs: bigint, endNs: bigint, limit: number, signal?: AbortSignal): Promise<{ tsNs: bigint; labels: Record<string, string>; line: string }[]> {
  const params = new URLSearchParams({ query, start: startNs.toString(), end: endNs.toString(), limit: String(limit), direction: 'backward' });
  const res = await fetch(`${loc.base}/loki/api/v1/query_range?${params}`, { headers: loc.tenant ? { 'X-Scope-OrgID': loc.tenant } : {}, ...(signal ? { signal } : {}) });
  const text = await res.text();
  if (!res.ok) throw new LokiHttpError(res.status, `Loki returned HTTP ${res.status}: ${text.slice(0, 300).trim()}`);
  let doc: QueryRangeAnswer;
  try {
    doc = JSON.parse(text) as QueryRangeAnswer;
  } catch {
    throw new Error(`Loki answered something that is not JSON: ${text.slice(0, 100)}`);
  }
  if (doc.status !== 'success') throw new Error(`Loki returned non-success: ${text.slice(0, 300)}`);
  if (doc.data?.resultType !== 'streams') throw new Error(`the query must be a log query (Loki answered resultType ${doc.data?.resultType})`);
  const out: { tsNs: bigint; labels: Record<string, string>; line: string }[] = [];
  for (const s of doc.data.result ?? []) for (const [ts, line] of s.values ?? []) out.push({ tsNs: BigInt(ts), labels: s.stream ?? {}, line });
  // Results come grouped by stream: newest first across all of them, so the cursor only goes down.
  out.sort((a, b) => (a.tsNs === b.tsNs ? 0 : a.tsNs > b.tsNs ? -1 : 1));
  return out;
}

/** An RRPair from a Loki line (the loki exporter's JSON line), with identity from the stream labels. */
export function lineToRecord(line: string, labels: Record<string, string>, tsNs: bigint): RRRecord | string {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return 'line is not JSON';
  }
  // The loki exporter's line wraps the RRPair in "body"; Loki's native OTLP endpoint stores the body itself.
  let body = (doc as { body?: unknown } | null)?.body;
  if ((typeof body !== 'object' || body === null) && (doc as { msgType?: unknown } | null)?.msgType === 'rrpair') body = doc;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'line is neither {"body": <RRPair>} (the loki exporter) nor an RRPair (Loki\'s OTLP endpoint)';
  const rr = body as RRPair;
  for (const f of IDENTITY_FIELDS) if (isUnset(rr[f]) && labels[f]) rr[f] = labels[f];
  const attributes: Record<string, string> = {};
  for (const f of ['service', 'namespace'] as const) if (labels[f]) attributes[f] = labels[f];
  return newRecord(rr, { attributes, resource: labels.cluster ? { cluster: labels.cluster } : {}, observedNs: tsNs });
}

/** Loki's default max_entries_limit_per_query: the most lines one answer may hold. */
const MAX_ENTRIES = 5000;

/**
 * The records of a window, newest first, as items the snapshot builder takes (`ms` is the Loki
 * entry time, the window Loki was asked for). Pages with a cursor; halves a page that Loki finds
 * too large to answer; an instant holding a whole page of lines is read on its own.
 */
export async function* readLoki(loc: LokiLocation, query: string, startMs: number, endMs: number, signal?: AbortSignal): AsyncIterable<ObjectItem> {
  const startNs = BigInt(Math.floor(startMs)) * 1_000_000n;
  let cursor = BigInt(Math.ceil(endMs)) * 1_000_000n + 1n; // end is exclusive: include endMs itself
  const seen = new Set<string>();
  let pos = 0;
  const fetchPage = async (from: bigint, to: bigint, lines: number, halve: boolean) => {
    for (;;) {
      try {
        return { page: await queryPage(loc, query, from, to, lines, signal), lines };
      } catch (err) {
        if (!halve || !(err instanceof LokiHttpError && err.status === 500 && err.message.includes('ResourceExhausted')) || lines <= 1) throw err;
        lines = Math.max(1, Math.floor(lines / 2));
      }
    }
  };
  function* emit(page: Awaited<ReturnType<typeof queryPage>>): Generator<ObjectItem> {
    for (const e of page) {
      const key = `${e.tsNs}\u0000${e.line}`;
      if (seen.has(key)) continue;
      seen.add(key);
      pos++;
      const r = lineToRecord(e.line, e.labels, e.tsNs);
      if (typeof r === 'string') yield { kind: 'bad', line: pos, reason: r };
      else yield { kind: 'record', record: r, pos, ms: Number(e.tsNs / 1_000_000n) };
    }
  }
  while (cursor > startNs) {
    const { page, lines } = await fetchPage(startNs, cursor, loc.pageLines ?? 25, true);
    if (!page.length) return;
    yield* emit(page);
    // A short page held everything left in the window.
    if (page.length < lines) return;
    const oldest = page[page.length - 1]!.tsNs;
    if (page[0]!.tsNs === oldest) {
      // A whole page on one instant: the cursor cannot split it, so read that instant alone.
      const inst = await fetchPage(oldest, oldest + 1n, MAX_ENTRIES, false);
      yield* emit(inst.page);
      if (inst.page.length >= MAX_ENTRIES) yield { kind: 'bad', line: pos, reason: `more than ${MAX_ENTRIES} lines at ${oldest} ns: some may be missing` };
      cursor = oldest;
    } else cursor = oldest + 1n; // re-ask from the oldest instant: its lines not yet seen come next
  }
}
