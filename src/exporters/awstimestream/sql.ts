import type { QueryFilter } from '../../core/query.js';
import { exactLiteral, type CompiledFilter } from '../../helpers/hot-store.js';
import { MEASURE_NAME, tsNanos } from './records.js';

/**
 * A query filter as Timestream SQL (see README.md, "Queries"): the time window, the paging
 * cursor and every exact filter (cluster, namespace, service, direction, protocol, and method,
 * status or endpoint written `^literal$`) go into the WHERE clause; other regexes are applied by
 * rrpipe to the rows read (RE2, the same semantics as every other store). Hits come in
 * (time, id) order.
 */

export function sqlString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

export function sqlIdent(v: string): string {
  return `"${v.replace(/"/g, '""')}"`;
}

/** The query, and whether rows still need filtering by rrpipe (a regex the SQL does not carry). */
export function selectOf(database: string, table: string, f: CompiledFilter, rowLimit?: number): { sql: string; postFiltered: boolean } {
  const filter: QueryFilter = f.filter;
  const where = [`measure_name = ${sqlString(MEASURE_NAME)}`];
  if (f.startTs) where.push(`time >= from_nanoseconds(${tsNanos(f.startTs)})`);
  if (f.endTs) where.push(`time < from_nanoseconds(${tsNanos(f.endTs)})`);
  if (f.after) {
    const t = `from_nanoseconds(${tsNanos(f.after.ts)})`;
    where.push(`(time > ${t} OR (time = ${t} AND id > ${sqlString(f.after.id)}))`);
  }
  const eq = (col: string, v: string | undefined) => {
    if (v !== undefined) where.push(v === '' ? `${col} IS NULL` : `${col} = ${sqlString(v)}`);
  };
  eq('cluster', filter.cluster);
  eq('namespace', filter.namespace);
  eq('service', filter.service);
  eq('direction', filter.direction);
  eq('l7protocol', filter.protocol);
  let postFiltered = false;
  for (const [col, re] of [['command', filter.method], ['status', filter.status], ['location', filter.endpoint]] as const) {
    if (re === undefined || re === '') continue;
    const lit = exactLiteral(re);
    if (lit === undefined) postFiltered = true;
    else eq(col, lit);
  }
  const limit = rowLimit !== undefined ? ` LIMIT ${rowLimit}` : '';
  return { sql: `SELECT * FROM ${sqlIdent(database)}.${sqlIdent(table)} WHERE ${where.join(' AND ')} ORDER BY time ASC, id ASC${limit}`, postFiltered };
}
