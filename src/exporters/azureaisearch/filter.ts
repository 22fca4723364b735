import { exactLiteral, type CompiledFilter } from '../../helpers/hot-store.js';

/**
 * A query filter as an OData $filter (see README.md, "Queries"): the time window, the paging
 * cursor and every exact filter (cluster, namespace, service, direction, protocol, and method,
 * status or endpoint written `^literal$`) are served by the index's filterable fields; other
 * regexes are applied by rrpipe to the documents read, with RE2 (Lucene regexes in
 * search.ismatch match analyzed terms, not the whole value, so they would answer differently).
 */

export function odataString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

export function odataFilterOf(f: CompiledFilter): { filter: string; postFiltered: boolean } {
  const q = f.filter;
  const parts: string[] = [];
  if (f.startTs) parts.push(`ts ge ${odataString(f.startTs)}`);
  if (f.endTs) parts.push(`ts lt ${odataString(f.endTs)}`);
  if (f.after) parts.push(`(ts gt ${odataString(f.after.ts)} or (ts eq ${odataString(f.after.ts)} and id gt ${odataString(f.after.id)}))`);
  const eq = (field: string, v: string | undefined) => {
    if (v !== undefined) parts.push(`${field} eq ${odataString(v)}`);
  };
  eq('cluster', q.cluster);
  eq('namespace', q.namespace);
  eq('service', q.service);
  eq('direction', q.direction);
  eq('l7protocol', q.protocol);
  let postFiltered = false;
  for (const [field, re] of [['command', q.method], ['status', q.status], ['location', q.endpoint]] as const) {
    if (re === undefined || re === '') continue;
    const lit = exactLiteral(re);
    if (lit === undefined) postFiltered = true;
    else eq(field, lit);
  }
  return { filter: parts.join(' and '), postFiltered };
}
