import { randomUUID, randomInt } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import type { RRRecord } from '../core/record.js';
import { isUnset } from '../rrpair/types.js';
import { extensionOf, type Compression, type Format } from './format.js';
import { joinKey, type ObjectStore } from './store.js';

/**
 * Object key layouts. `native` is rrpipe's own (Hive partitions on event time); the otel_* layouts
 * are the keys the OTel Collector's awss3, azure_blob and googlecloudstorage exporters write (by
 * write time, one object per batch); fluentbit_s3 is Fluent Bit's s3 output.
 */
export type LayoutName = 'native' | 'otel_awss3' | 'otel_azure_blob' | 'otel_googlecloudstorage' | 'fluentbit_s3';
export const LAYOUTS: readonly LayoutName[] = ['native', 'otel_awss3', 'otel_azure_blob', 'otel_googlecloudstorage', 'fluentbit_s3'];

export interface LayoutSpec {
  layout: LayoutName;
  /** Key prefix (no leading or trailing slash needed). */
  prefix: string;
  format: Format;
  compression: Compression;
  /** otel_awss3 only: strftime partition format (%Y %m %d %H %M). */
  partition_format?: string;
  /** otel_awss3: prepended to `logs_<id>` (the OTel awss3 `file_prefix`). */
  file_prefix?: string;
}

export const OTEL_S3_PARTITION = 'year=%Y/month=%m/day=%d/hour=%H/minute=%M';
export const MANIFEST_KEY = '_rrpipe/layout.json';
const HOUR = 3_600_000;

export interface Manifest {
  rrpipe_layout: 1;
  layout: LayoutName;
  format: Format;
  compression: Compression;
  partition_format?: string;
  partitioning: string;
  created: string;
}

/** The format and compression a layout writes when the config does not say. */
export function layoutDefaults(layout: LayoutName): { format: Format; compression: Compression } {
  switch (layout) {
    case 'native':
      return { format: 'raw_jsonl', compression: 'gzip' };
    case 'otel_awss3':
    case 'otel_azure_blob':
    case 'otel_googlecloudstorage':
      return { format: 'otlp_json', compression: 'none' };
    case 'fluentbit_s3':
      return { format: 'raw_jsonl', compression: 'gzip' };
  }
}

/** A layout's rules; a layout whose keys fix the format (Fluent Bit) says so. */
export function checkSpec(s: LayoutSpec): string | undefined {
  if (s.layout === 'fluentbit_s3' && (s.format !== 'raw_jsonl' || s.compression !== 'gzip')) {
    return 'layout fluentbit_s3 writes gzip NDJSON (format raw_jsonl, compression gzip) only';
  }
  if (s.layout === 'otel_awss3' && s.partition_format && !/%H/.test(s.partition_format)) {
    return 'partition_format must contain %H (partitions must be at most one hour long)';
  }
  return undefined;
}

/** Event time of a record in epoch ms: the RRPair's ts, or when rrpipe received it. */
export function eventMs(r: RRRecord): number {
  const ts = r.rrpair.ts;
  if (typeof ts === 'string') {
    const ms = Date.parse(ts);
    if (!Number.isNaN(ms)) return ms;
  }
  return Number(r.observedNs / 1_000_000n);
}

function p2(n: number): string {
  return String(n).padStart(2, '0');
}

/** strftime with the tokens the OTel awss3 partition format uses, in UTC. */
export function strftime(fmt: string, ms: number): string {
  const d = new Date(ms);
  return fmt.replace(/%([YmdHMS%])/g, (_, t: string) => {
    switch (t) {
      case 'Y': return String(d.getUTCFullYear());
      case 'm': return p2(d.getUTCMonth() + 1);
      case 'd': return p2(d.getUTCDate());
      case 'H': return p2(d.getUTCHours());
      case 'M': return p2(d.getUTCMinutes());
      case 'S': return p2(d.getUTCSeconds());
      default: return '%';
    }
  });
}

/** A Hive partition value: "/" and characters query engines choke on are %-escaped, as Hive does. */
export function hiveValue(v: string): string {
  return v.replace(/[%/\\:#?*"<>|=\x00-\x1f\x7f{}[\]^]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

export function serviceOf(r: RRRecord): string {
  const s = r.rrpair.service;
  if (typeof s === 'string' && !isUnset(s)) return s;
  const a = r.attributes.service ?? r.resource.service;
  return a !== undefined && !isUnset(a) ? String(a) : 'unknown';
}

export interface PlannedObject {
  key: string;
  /** Indexes of the batch's records that go in this object, in write order. */
  indexes: number[];
}

const nextUlid = monotonicFactory();
let fluentIndex = 0;

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = LETTERS + '0123456789';

/** The OTel awss3 exporter's unique key: 9 random letters and digits, the first a letter (internal/upload/partition.go). */
export function otelUniqueKey(): string {
  let out = LETTERS[randomInt(LETTERS.length)]!;
  for (let i = 1; i < 9; i++) out += ALNUM[randomInt(ALNUM.length)]!;
  return out;
}

/** The compression suffix the OTel exporters append (".gz"; rrpipe's zstd adds ".zst"). */
function compressionSuffix(c: Compression): string {
  return c === 'gzip' ? '.gz' : c === 'zstd' ? '.zst' : '';
}

/** The object name of a layout written by write time (the otel_* layouts), for a batch written at `now`. */
function otelKey(spec: LayoutSpec, now: number): string {
  const ext = extensionOf(spec.format, 'none');
  switch (spec.layout) {
    case 'otel_awss3':
      return joinKey(spec.prefix, strftime(spec.partition_format || OTEL_S3_PARTITION, now), `${spec.file_prefix ?? ''}logs_${otelUniqueKey()}${ext}${compressionSuffix(spec.compression)}`);
    case 'otel_azure_blob':
      // azureblobexporter: blob_name_format.logs_format "2006/01/02/logs_15_04_05.json", then "_<serial in [0, 10000)>".
      return joinKey(spec.prefix, strftime('%Y/%m/%d', now), `logs_${strftime('%H_%M_%S', now)}${ext}_${randomInt(10_000)}${compressionSuffix(spec.compression)}`);
    case 'otel_googlecloudstorage':
      // googlecloudstorageexporter: "<file_prefix>_<uuid>", no extension, at the bucket root.
      return spec.prefix ? `${spec.prefix}_${randomUUID()}` : randomUUID();
    default:
      throw new Error(`layout ${spec.layout} is not written by write time`);
  }
}

export function isWriteTimeLayout(layout: LayoutName): boolean {
  return layout === 'otel_awss3' || layout === 'otel_azure_blob' || layout === 'otel_googlecloudstorage';
}

/**
 * Split a batch into objects and name each one, as the layout does. The otel_* layouts write the
 * whole batch as one object named by the write time, as the OTel exporters do; native and
 * fluentbit_s3 write one object per event-time hour (and service, for native).
 */
export function planObjects(spec: LayoutSpec, batch: RRRecord[], now = Date.now()): PlannedObject[] {
  if (isWriteTimeLayout(spec.layout)) return batch.length ? [{ key: otelKey(spec, now), indexes: batch.map((_, i) => i) }] : [];
  const groups = new Map<string, { hour: number; first: number; indexes: number[] }>();
  batch.forEach((r, i) => {
    const ms = eventMs(r);
    const hour = Math.floor(ms / HOUR) * HOUR;
    const g = spec.layout === 'native' ? `${hour}/${serviceOf(r)}` : String(hour);
    let grp = groups.get(g);
    if (!grp) groups.set(g, (grp = { hour, first: ms, indexes: [] }));
    grp.first = Math.min(grp.first, ms);
    grp.indexes.push(i);
  });
  const ext = extensionOf(spec.format, spec.compression);
  const out: PlannedObject[] = [];
  for (const [g, grp] of groups) {
    let key: string;
    if (spec.layout === 'native') {
      const svc = g.slice(g.indexOf('/') + 1);
      key = joinKey(spec.prefix, `dt=${strftime('%Y-%m-%d', grp.hour)}`, `hour=${strftime('%H', grp.hour)}`, `service=${hiveValue(svc)}`, `${nextUlid(now)}${ext}`);
    } else {
      key = joinKey(spec.prefix, strftime('year=%Y/month=%m/day=%d/hour=%H', grp.hour), `${randomUUID()}-${fluentIndex++}.json.gz`);
    }
    out.push({ key, indexes: grp.indexes });
  }
  return out;
}

/**
 * The key prefixes to list for a window: one per hour the window touches (from `start - lateness`
 * for layouts partitioned by write time), never the whole bucket. `services` narrows native listings.
 */
export function partitionPrefixes(spec: Pick<LayoutSpec, 'layout' | 'prefix' | 'partition_format'>, startMs: number, endMs: number, opts: { lateMs?: number; services?: string[] } = {}): string[] {
  const out = new Set<string>();
  const first = Math.floor(startMs / HOUR) * HOUR;
  const last = Math.floor((endMs + (opts.lateMs ?? 0)) / HOUR) * HOUR;
  for (let h = first; h <= last; h += HOUR) {
    switch (spec.layout) {
      case 'native': {
        const base = joinKey(spec.prefix, `dt=${strftime('%Y-%m-%d', h)}`, `hour=${strftime('%H', h)}`);
        if (opts.services?.length) for (const s of opts.services) out.add(`${base}/service=${hiveValue(s)}/`);
        else out.add(`${base}/`);
        break;
      }
      case 'otel_awss3': {
        const fmt = spec.partition_format || OTEL_S3_PARTITION;
        const segs = fmt.split('/');
        const cut = segs.findIndex((s) => /%[MS]/.test(s));
        const hourFmt = (cut < 0 ? segs : segs.slice(0, cut)).join('/');
        out.add(joinKey(spec.prefix, strftime(hourFmt, h)) + '/');
        break;
      }
      case 'otel_azure_blob':
        out.add(joinKey(spec.prefix, strftime('%Y/%m/%d', h), `logs_${strftime('%H', h)}_`));
        break;
      case 'otel_googlecloudstorage':
        // No time in the names: every object under the prefix is listed (records are checked against the window).
        out.add(spec.prefix ? `${spec.prefix}_` : '');
        break;
      case 'fluentbit_s3':
        out.add(joinKey(spec.prefix, strftime('year=%Y/month=%m/day=%d/hour=%H', h)) + '/');
        break;
    }
  }
  return [...out];
}

export function manifestOf(spec: LayoutSpec): Manifest {
  const partitioning: Record<LayoutName, string> = {
    native: 'dt=YYYY-MM-DD/hour=HH/service=<svc>/<ulid>' + extensionOf(spec.format, spec.compression),
    otel_awss3: `${spec.partition_format || OTEL_S3_PARTITION}/${spec.file_prefix ?? ''}logs_<id>${extensionOf(spec.format, 'none')}${compressionSuffix(spec.compression)}`,
    otel_azure_blob: `YYYY/MM/DD/logs_HH_MM_SS${extensionOf(spec.format, 'none')}_NNNN${compressionSuffix(spec.compression)}`,
    otel_googlecloudstorage: '<prefix>_<uuid>',
    fluentbit_s3: 'year=YYYY/month=MM/day=DD/hour=HH/<uuid>-<idx>.json.gz',
  };
  return {
    rrpipe_layout: 1,
    layout: spec.layout,
    format: spec.format,
    compression: spec.compression,
    ...(spec.layout === 'otel_awss3' ? { partition_format: spec.partition_format || OTEL_S3_PARTITION } : {}),
    partitioning: partitioning[spec.layout],
    created: new Date().toISOString(),
  };
}

/** Write the layout manifest unless one is there; refuse to mix layouts under one prefix. */
export async function ensureManifest(store: ObjectStore, spec: LayoutSpec): Promise<void> {
  const key = joinKey(spec.prefix, MANIFEST_KEY);
  const existing = await store.getSmall(key);
  if (existing) {
    let m: Partial<Manifest>;
    try {
      m = JSON.parse(existing.toString('utf8')) as Partial<Manifest>;
    } catch {
      throw new Error(`${store.uri(key)} is not a valid layout manifest`);
    }
    if (m.layout !== spec.layout) throw new Error(`${store.uri(key)} says layout "${m.layout}", but this exporter writes "${spec.layout}": use another prefix`);
    return;
  }
  await store.put(key, Buffer.from(JSON.stringify(manifestOf(spec), null, 2) + '\n'), { contentType: 'application/json' });
}

/** The manifest under a prefix, or undefined. */
export async function readManifest(store: ObjectStore, prefix: string): Promise<Manifest | undefined> {
  const key = joinKey(prefix, MANIFEST_KEY);
  const b = await store.getSmall(key);
  if (!b) return undefined;
  const m = JSON.parse(b.toString('utf8')) as Manifest;
  if (!LAYOUTS.includes(m.layout)) throw new Error(`${store.uri(key)}: unknown layout "${m.layout}"`);
  return m;
}

/** True for keys a reader must skip (the manifest, temporary files). */
export function isMetaKey(key: string): boolean {
  return key.includes('/_rrpipe/') || key.startsWith('_rrpipe/');
}
