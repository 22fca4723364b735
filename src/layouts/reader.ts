import type { RRRecord } from '../core/record.js';
import { decodeObject } from './format.js';
import { isMetaKey, LAYOUTS, partitionPrefixes, readManifest, type LayoutName, type LayoutSpec } from './layout.js';
import type { ObjectInfo, ObjectStore } from './store.js';

export type ReadLayout = Pick<LayoutSpec, 'layout' | 'prefix' | 'partition_format'>;

/** The layout under a prefix: the configured one, the one its manifest names, or the one its keys show. */
export async function resolveLayout(store: ObjectStore, prefix: string, configured: LayoutName | 'auto', partitionFormat?: string): Promise<ReadLayout> {
  if (configured !== 'auto') return { layout: configured, prefix, ...(partitionFormat ? { partition_format: partitionFormat } : {}) };
  const m = await readManifest(store, prefix);
  if (m) return { layout: m.layout, prefix, ...(m.partition_format ? { partition_format: partitionFormat ?? m.partition_format } : {}) };
  // Archives written by the OTel Collector (or by rrpipe's OTel-named exporters, which write no manifest by default).
  const detected = await detectLayout(store, prefix);
  if (!detected) throw new Error(`no layout manifest at ${store.uri(prefix ? `${prefix.replace(/\/+$/, '')}/_rrpipe/layout.json` : '_rrpipe/layout.json')} and no key there in a known layout: set layout (${LAYOUTS.join(', ')})`);
  return { layout: detected, prefix, ...(partitionFormat ? { partition_format: partitionFormat } : {}) };
}

const KEY_PATTERNS: [LayoutName, RegExp][] = [
  ['native', /^dt=\d{4}-\d\d-\d\d\/hour=\d\d\/service=[^/]+\/[^/]+$/],
  ['fluentbit_s3', /^year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/[0-9a-f-]{36}-\d+\.json\.gz$/],
  ['otel_awss3', /^year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/minute=\d\d\/[^/]*logs_[^/]+$/],
  ['otel_azure_blob', /^\d{4}\/\d\d\/\d\d\/logs_\d\d_\d\d_\d\d\.[a-z]+_\d+(\.gz|\.zst)?$/],
  ['otel_googlecloudstorage', /^_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/],
];

/** The layout the first keys under a prefix are named in (the default partition formats only), or undefined. */
export async function detectLayout(store: ObjectStore, prefix: string): Promise<LayoutName | undefined> {
  const base = prefix.replace(/\/+$/, '');
  let seen = 0;
  for await (const o of store.list(base)) {
    if (isMetaKey(o.key) || o.key.endsWith('/')) continue;
    const rel = o.key.slice(base.length);
    for (const [name, re] of KEY_PATTERNS) {
      const sub = name === 'otel_googlecloudstorage' ? rel : rel.replace(/^\//, '');
      if ((name === 'otel_googlecloudstorage' || !base || rel.startsWith('/')) && re.test(sub)) return name;
    }
    if (++seen >= 100) break;
  }
  return undefined;
}

/** The objects of the partitions a window touches, in key order; never lists the whole bucket. */
export async function listWindow(store: ObjectStore, layout: ReadLayout, startMs: number, endMs: number, opts: { lateMs?: number; services?: string[] } = {}): Promise<ObjectInfo[]> {
  const lateMs = layout.layout === 'native' ? 0 : opts.lateMs ?? 0;
  const seen = new Map<string, ObjectInfo>();
  for (const p of partitionPrefixes(layout, startMs, endMs, { lateMs, services: opts.services })) {
    for await (const o of store.list(p)) if (!isMetaKey(o.key) && !o.key.endsWith('/')) seen.set(o.key, o);
  }
  return [...seen.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export interface ObjectProblem {
  uri: string;
  line?: number;
  reason: string;
}

export type ObjectItem =
  | { kind: 'record'; record: RRRecord; pos: number; ms: number }
  | { kind: 'bad'; line: number; reason: string };

/** Event time of a record, or NaN. */
export function recordMs(r: RRRecord): number {
  return typeof r.rrpair.ts === 'string' ? Date.parse(r.rrpair.ts) : NaN;
}

/** Records of one object, streamed, each with its location (uri#pos) set. */
export async function* readObject(store: ObjectStore, key: string, signal?: AbortSignal): AsyncIterable<ObjectItem> {
  const stream = await store.get(key);
  const uri = store.uri(key);
  try {
    for await (const d of decodeObject(stream)) {
      if (signal?.aborted) return;
      if (d.kind === 'bad') yield d;
      else yield { kind: 'record', record: { ...d.record, location: `${uri}#${d.pos}` }, pos: d.pos, ms: recordMs(d.record) };
    }
  } finally {
    stream.destroy();
  }
}

/** Errors that mean the object's bytes are bad (retrying will not help). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return true;
  return /zstd|incorrect header|unexpected end of file|invalid (block|distance|code|stored)|header check|Unknown frame|Data corruption/i.test(String((err as Error)?.message ?? err));
}

/** Run fn over items with at most `limit` at once; stops taking new items once signal aborts. */
export async function eachLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
