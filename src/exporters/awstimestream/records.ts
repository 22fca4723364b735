import type { _Record, Dimension, MeasureValue } from '@aws-sdk/client-timestream-write';
import { INDEX_FIELDS } from '../../rrpair/index-doc.js';
import type { IndexDoc } from '../../rrpair/index-doc.js';

/**
 * The record design (see README.md, "Record design"): one multi-measure record per RRPair.
 * The dimensions are the index fields a query filters on exactly (id among them, so two RRPairs
 * at the same nanosecond stay two records); the measures are the rest. Time is the RRPair's ts
 * in nanoseconds and the version is fixed, so a replay writes the same record: Timestream
 * accepts it again as the same point (an upsert), nothing is duplicated.
 */

/** Dimensions, in this order (an empty value is left out: Timestream refuses empty dimensions). */
export const DIMENSIONS = ['id', 'cluster', 'namespace', 'service', 'direction', 'l7protocol', 'command', 'status', 'host'] as const;
/** The multi-measure record's measure name. */
export const MEASURE_NAME = 'rrpair';
/** Measures and their Timestream types; `extra` holds index fields beyond INDEX_FIELDS (JSON). */
export const MEASURES = [
  ['location', 'VARCHAR'],
  ['duration', 'DOUBLE'],
  ['req_size', 'BIGINT'],
  ['res_size', 'BIGINT'],
  ['archive_uri', 'VARCHAR'],
  ['extra', 'VARCHAR'],
] as const;
export const RECORD_VERSION = 1;

/** Timestream's limits: 100 records per WriteRecords, 2 KB per record, 2 KB per measure value and per series' dimensions. */
export const WRITE_RECORDS = 100;
export const MAX_RECORD_BYTES = 2048;
export const MAX_VALUE_BYTES = 2048;

/** Nanoseconds since the epoch of a normalized ts ("2025-06-01T23:00:00.123456789Z"), as a decimal string. */
export function tsNanos(ts: string): string {
  const ms = Date.parse(`${ts.slice(0, 19)}Z`);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: "${ts}"`);
  return (BigInt(ms) * 1_000_000n + BigInt(ts.slice(20, 29).padEnd(9, '0'))).toString();
}

/** The normalized ts of a Timestream TIMESTAMP value ("2025-06-01 23:00:00.123456789"). */
export function tsOfTimestamp(v: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?$/.exec(v);
  if (!m) throw new Error(`timestream: unexpected TIMESTAMP value "${v}"`);
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(9, '0')}Z`;
}

function extrasOf(doc: IndexDoc): Record<string, unknown> | undefined {
  const known = new Set<string>(INDEX_FIELDS);
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(doc)) {
    if (known.has(k) || v === undefined) continue;
    out[k] = v;
    any = true;
  }
  return any ? out : undefined;
}

/** The record of an index document, and its size as Timestream counts it (names and values in UTF-8, 8 bytes of time). */
export function recordOf(doc: IndexDoc): { record: _Record; bytes: number; problem?: string } {
  const dims: Dimension[] = [];
  for (const name of DIMENSIONS) {
    const v = String(doc[name] ?? '');
    if (v !== '') dims.push({ Name: name, Value: v, DimensionValueType: 'VARCHAR' });
  }
  const extra = extrasOf(doc);
  const values: Record<string, string | undefined> = {
    location: doc.location || undefined,
    duration: String(doc.duration ?? 0),
    req_size: String(Math.trunc(doc.req_size ?? 0)),
    res_size: String(Math.trunc(doc.res_size ?? 0)),
    archive_uri: doc.archive_uri || undefined,
    extra: extra ? JSON.stringify(extra) : undefined,
  };
  const measures: MeasureValue[] = [];
  for (const [name, type] of MEASURES) {
    const v = values[name];
    if (v !== undefined) measures.push({ Name: name, Value: v, Type: type });
  }
  const record: _Record = {
    Dimensions: dims,
    MeasureName: MEASURE_NAME,
    MeasureValueType: 'MULTI',
    MeasureValues: measures,
    Time: tsNanos(doc.ts),
    TimeUnit: 'NANOSECONDS',
    Version: RECORD_VERSION,
  };
  const dimBytes = dims.reduce((n, d) => n + Buffer.byteLength(d.Name!) + Buffer.byteLength(d.Value!), 0);
  const bytes = dimBytes + Buffer.byteLength(MEASURE_NAME) + measures.reduce((n, m) => n + Buffer.byteLength(m.Name!) + Buffer.byteLength(m.Value!), 0) + 8;
  const long = [...dims.map((d) => [d.Name!, d.Value!] as const), ...measures.map((m) => [m.Name!, m.Value!] as const)].find(([, v]) => Buffer.byteLength(v) > MAX_VALUE_BYTES);
  const problem = long ? `${long[0]} is ${Buffer.byteLength(long[1])} bytes (Timestream's limit for a value is ${MAX_VALUE_BYTES} bytes)`
    : dimBytes > MAX_RECORD_BYTES ? `the dimensions are ${dimBytes} bytes (Timestream's limit per series is ${MAX_RECORD_BYTES} bytes)`
    : undefined;
  return { record, bytes, ...(problem ? { problem } : {}) };
}

/** The index document of a query row, by column name (null columns absent). */
export function docOfRow(row: Record<string, string | undefined>): IndexDoc {
  const doc: IndexDoc = {
    id: row.id ?? '',
    ts: tsOfTimestamp(row.time ?? ''),
    cluster: row.cluster ?? '',
    namespace: row.namespace ?? '',
    service: row.service ?? '',
    direction: row.direction ?? '',
    l7protocol: row.l7protocol ?? '',
    command: row.command ?? '',
    location: row.location ?? '',
    status: row.status ?? '',
    host: row.host ?? '',
    duration: Number(row.duration ?? 0),
    req_size: Number(row.req_size ?? 0),
    res_size: Number(row.res_size ?? 0),
  };
  if (row.archive_uri !== undefined) doc.archive_uri = row.archive_uri;
  if (row.extra !== undefined) Object.assign(doc, JSON.parse(row.extra) as Record<string, string | number | boolean>);
  return doc;
}
