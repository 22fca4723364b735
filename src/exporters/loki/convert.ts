import type { Attrs, AttrValue, RRRecord } from '../../core/record.js';
import { tsNanos } from '../../rrpair/otlp.js';
import { goJson, goQuote } from '../internal/gojson.js';

/**
 * Records → Loki streams, as the OTel Collector contrib loki exporter builds them
 * (pkg/translator/loki: logs_to_loki.go, convert.go, encode.go; utils.go for job/instance):
 *
 * - labels: `exporter="OTLP"`, `job` from service.namespace/service.name, `instance` from
 *   service.instance.id (each unless `default_labels_enabled.<name>: false`), then the resource
 *   attributes named by the `loki.resource.labels` hint (on the resource or the log record) and
 *   the log attributes named by `loki.attribute.labels`; names normalized to Prometheus label names;
 * - the promoted attributes and the hints are removed from what the line shows;
 * - the line: by the `loki.format` hint, `json` (default: body, attributes, resources as the
 *   contrib exporter's JSON, keys sorted and HTML characters escaped as Go's encoding/json does),
 *   `raw` (the body as a string) or `logfmt`;
 * - the tenant: the value of the attribute the `loki.tenant` hint names (resource first).
 */

export const HINT_ATTRIBUTES = 'loki.attribute.labels';
export const HINT_RESOURCES = 'loki.resource.labels';
export const HINT_TENANT = 'loki.tenant';
export const HINT_FORMAT = 'loki.format';
const HINTS = new Set([HINT_ATTRIBUTES, HINT_RESOURCES, HINT_TENANT, HINT_FORMAT]);

export const DEFAULT_LABELS = ['exporter', 'job', 'instance', 'level'] as const;
export type DefaultLabelsEnabled = Partial<Record<(typeof DEFAULT_LABELS)[number], boolean>>;

/**
 * Which timestamp a Loki entry carries: the log record's time (OTel's rule, falling back to when
 * rrpipe received the record), always the receive time, or the RRPair's own ts.
 */
export type EntryTimestamp = 'log_record' | 'observed' | 'rrpair';

export interface LokiEntry {
  /** Unix nanoseconds. */
  tsNs: bigint;
  line: string;
}

export interface LokiStream {
  /** The label set as the exporter sends it: `{a="b", c="d"}`. */
  labels: string;
  /** The same as a map (for the JSON push format). */
  labelMap: Record<string, string>;
  entries: LokiEntry[];
  /** Index in the batch of the record behind each entry. */
  indices: number[];
}

export interface TenantRequest {
  tenant: string;
  streams: LokiStream[];
  /** Batch indices of every record in this request. */
  indices: number[];
}

export interface ConvertResult {
  requests: TenantRequest[];
  /** Records that cannot be converted (the contrib exporter drops them; rrpipe dead-letters them). */
  failures: { index: number; reason: string }[];
}

export interface ConvertOptions {
  defaultLabelsEnabled?: DefaultLabelsEnabled;
  timestamp?: EntryTimestamp;
  /** Nesting limit of a body: deeper values make the record fail instead of overflowing the stack. */
  maxDepth?: number;
}

const enabled = (o: DefaultLabelsEnabled | undefined, label: (typeof DEFAULT_LABELS)[number]) => o?.[label] !== false;

/** pcommon.Value.AsString for the scalar attribute values rrpipe keeps. */
function asString(v: AttrValue): string {
  return typeof v === 'string' ? v : String(v);
}

/** The attribute names a hint lists: comma-separated, trimmed (convert.go parseAttributeNames). */
function hintNames(v: AttrValue): string[] {
  return asString(v).split(',').map((s) => s.trim());
}

/**
 * A label name as the Prometheus translator normalizes it (NormalizeLabel): anything but a letter
 * or digit becomes `_`; a leading digit gets `key_`, a single leading underscore `key`.
 */
export function normalizeLabel(name: string): string {
  if (!name) return name;
  let out = name.replace(/[^\p{L}\p{N}]/gu, '_');
  if (/^\p{Nd}/u.test(out)) out = `key_${out}`;
  else if (out.startsWith('_') && !out.startsWith('__')) out = `key${out}`;
  return out;
}

/** model.LabelSet.String(): `name="value"` pairs, sorted as strings, Go-quoted. */
export function labelSetString(labels: Map<string, string>): string {
  const pairs = [...labels].map(([k, v]) => `${k}=${goQuote(v)}`);
  pairs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${pairs.join(', ')}}`;
}

/** The tenant a record goes to ("" when no `loki.tenant` hint names a string attribute). */
export function tenantOf(attributes: Attrs, resource: Attrs): string {
  const hint = resource[HINT_TENANT] ?? attributes[HINT_TENANT];
  if (hint === undefined) return '';
  const name = asString(hint);
  const v = resource[name] ?? attributes[name];
  return typeof v === 'string' ? v : '';
}

function jobOf(resource: Attrs): string | undefined {
  const name = resource['service.name'];
  if (name === undefined) return undefined;
  const ns = resource['service.namespace'];
  return ns === undefined ? asString(name) : `${asString(ns)}/${asString(name)}`;
}

/** One record → its normalized labels and its line. Throws when the record cannot be written. */
export function recordToEntry(r: RRRecord, o: ConvertOptions = {}): { labels: string; labelMap: Record<string, string>; entry: LokiEntry } {
  const attrs: Attrs = { ...r.attributes };
  const res: Attrs = { ...r.resource };
  const merged = new Map<string, string>();
  if (enabled(o.defaultLabelsEnabled, 'exporter')) merged.set('exporter', 'OTLP');
  if (enabled(o.defaultLabelsEnabled, 'job')) {
    const job = jobOf(res);
    if (job !== undefined) merged.set('job', job);
  }
  if (enabled(o.defaultLabelsEnabled, 'instance')) {
    const inst = res['service.instance.id'];
    if (inst !== undefined) merged.set('instance', asString(inst));
  }
  const promote = (from: Attrs, hint: AttrValue | undefined) => {
    if (hint === undefined) return;
    for (const name of hintNames(hint)) {
      const v = from[name];
      if (v !== undefined) merged.set(name, asString(v));
    }
  };
  promote(res, res[HINT_RESOURCES]);
  promote(res, attrs[HINT_RESOURCES]);
  promote(attrs, attrs[HINT_ATTRIBUTES]);
  const format = asString(res[HINT_FORMAT] ?? attrs[HINT_FORMAT] ?? 'json');
  for (const m of [attrs, res]) for (const k of Object.keys(m)) if (HINTS.has(k) || merged.has(k)) delete m[k];

  const line = lineOf(format, r, attrs, res, o.maxDepth ?? 128);
  const labels = new Map<string, string>();
  for (const [k, v] of merged) labels.set(normalizeLabel(k), v);
  return { labels: labelSetString(labels), labelMap: Object.fromEntries(labels), entry: { tsNs: timestampOf(r, o.timestamp ?? 'log_record', line), line } };
}

/**
 * The entry time. The contrib exporter (pkg/translator/loki convert.go timestampFromLogRecord)
 * takes the log record's time, else its observed time, else now; rrpipe keeps the record's
 * time_unix_nano (`timeUnixNano`) and, in place of the other two, when it received the record
 * (`observedNs`). That receive time is often whole milliseconds, shared by a whole batch, and Loki
 * pages by timestamp (query_range's end is exclusive, and the gather script moves its cursor to the
 * oldest line of a page), so a batch on one instant would be cut at a page boundary: a
 * whole-millisecond receive time gets a sub-millisecond offset from the record's uuid (or line),
 * the same on every retry so Loki still drops a resent duplicate.
 */
function timestampOf(r: RRRecord, from: EntryTimestamp, line: string): bigint {
  if (from === 'log_record' && r.timeUnixNano) return BigInt(r.timeUnixNano);
  if (from === 'rrpair') {
    const t = tsNanos(typeof r.rrpair.ts === 'string' ? r.rrpair.ts : undefined);
    if (t !== undefined) return BigInt(t);
  }
  if (r.observedNs % 1_000_000n !== 0n) return r.observedNs;
  return r.observedNs + BigInt(fnv1a(typeof r.rrpair.uuid === 'string' && r.rrpair.uuid ? r.rrpair.uuid : line) % 1_000_000);
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function lineOf(format: string, r: RRRecord, attrs: Attrs, res: Attrs, maxDepth: number): string {
  switch (format) {
    case 'json': {
      // encode.go lokiEntry: the fields in declaration order, empty ones left out.
      let s = `{"body":${goJson(r.rrpair, maxDepth)}`;
      if (Object.keys(attrs).length) s += `,"attributes":${goJson(attrs, maxDepth)}`;
      if (Object.keys(res).length) s += `,"resources":${goJson(res, maxDepth)}`;
      return `${s}}`;
    }
    case 'raw':
      // Value.AsString of a map body: its JSON.
      return goJson(r.rrpair, maxDepth);
    case 'logfmt':
      return logfmtLine(r, attrs, res, maxDepth);
    default:
      throw new Error(`invalid format ${format}. Expected one of: json, logfmt, raw`);
  }
}

/** encode.go EncodeLogfmt: the body flattened with `_`, then attribute_*, then resource_*. */
function logfmtLine(r: RRRecord, attrs: Attrs, res: Attrs, maxDepth: number): string {
  const kv: [string, unknown][] = [];
  flatten('', r.rrpair, kv, 0, maxDepth);
  for (const [k, v] of Object.entries(attrs)) kv.push([`attribute_${k}`, v]);
  for (const [k, v] of Object.entries(res)) kv.push([`resource_${k}`, v]);
  return kv.map(([k, v]) => `${logfmtKey(k)}=${logfmtValue(v)}`).join(' ');
}

function flatten(key: string, v: unknown, out: [string, unknown][], depth: number, maxDepth: number): void {
  if (depth > maxDepth) throw new Error(`value nested deeper than ${maxDepth} levels`);
  if (v === null || v === undefined) return;
  const prefix = key ? `${key}_` : '';
  if (Array.isArray(v)) v.forEach((x, i) => flatten(`${prefix}${i}`, x, out, depth + 1, maxDepth));
  else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) flatten(prefix + k, x, out, depth + 1, maxDepth);
  else out.push([key, v]);
}

function logfmtKey(k: string): string {
  // go-logfmt refuses keys with a space, '=', '"' or a control character.
  if (!k || /[\s="\u0000-\u001f\u007f]/.test(k)) throw new Error(`invalid key "${k}" for logfmt`);
  return k;
}

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  if (s === '') return '';
  return /[\s="\\\u0000-\u001f\u007f]/.test(s) || s.includes('\ufffd') ? goQuote(s) : s;
}

/**
 * A batch → one push request per tenant, records grouped into streams by their label set, in
 * batch order. Records that cannot be converted are reported, not sent.
 */
export function batchToRequests(batch: readonly RRRecord[], o: ConvertOptions = {}): ConvertResult {
  const tenants = new Map<string, { streams: Map<string, LokiStream>; indices: number[] }>();
  const failures: ConvertResult['failures'] = [];
  batch.forEach((r, index) => {
    let conv: ReturnType<typeof recordToEntry>;
    try {
      conv = recordToEntry(r, o);
    } catch (err) {
      failures.push({ index, reason: `failed to convert, dropping log: ${(err as Error).message}` });
      return;
    }
    const tenant = tenantOf(r.attributes, r.resource);
    let t = tenants.get(tenant);
    if (!t) tenants.set(tenant, (t = { streams: new Map(), indices: [] }));
    t.indices.push(index);
    let s = t.streams.get(conv.labels);
    if (!s) t.streams.set(conv.labels, (s = { labels: conv.labels, labelMap: conv.labelMap, entries: [], indices: [] }));
    s.entries.push(conv.entry);
    s.indices.push(index);
  });
  return {
    requests: [...tenants].map(([tenant, t]) => ({ tenant, streams: [...t.streams.values()], indices: t.indices })),
    failures,
  };
}
