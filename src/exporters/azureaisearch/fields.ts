import type { SearchField, SearchIndex } from '@azure/search-documents';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';

/**
 * The index schema, derived from the index document (see README.md, "Index design"): the
 * fields a query filters, sorts or facets on are filterable/sortable/facetable; the document
 * key is the RRPair id in base64url (AI Search keys allow letters, digits, "_", "-" and "="
 * only), so a replayed record overwrites itself.
 */

export const KEY = 'key';
/** Index fields beyond INDEX_FIELDS (JSON), and the full RRPair (JSON), neither searchable nor filterable. */
export const EXTRA = 'extra';
export const RRPAIR = 'rrpair';
/** AI Search's limit for a term of a filterable, sortable or facetable string (UTF-8 bytes). */
export const MAX_TERM_BYTES = 32766;

const NUMERIC: Record<string, 'Edm.Double' | 'Edm.Int64'> = { duration: 'Edm.Double', req_size: 'Edm.Int64', res_size: 'Edm.Int64' };
/** Filterable and sortable, not facetable (unique per document). */
const UNIQUE = new Set(['id', 'ts']);
/** Searchable (full text) besides filterable: the endpoint. */
const TEXT = new Set(['location']);

export function fieldsOf(storeRRPair: boolean): SearchField[] {
  const out: SearchField[] = [{ name: KEY, type: 'Edm.String', key: true, filterable: true }];
  for (const name of INDEX_FIELDS) {
    if (name === 'archive_uri') out.push({ name, type: 'Edm.String' });
    else if (NUMERIC[name]) out.push({ name, type: NUMERIC[name]!, filterable: true, sortable: true, facetable: name !== 'duration' });
    else out.push({ name, type: 'Edm.String', filterable: true, sortable: !TEXT.has(name), facetable: !UNIQUE.has(name) && !TEXT.has(name), searchable: TEXT.has(name) });
  }
  out.push({ name: EXTRA, type: 'Edm.String' });
  if (storeRRPair) out.push({ name: RRPAIR, type: 'Edm.String' });
  return out;
}

export function indexDefinition(name: string, storeRRPair: boolean): SearchIndex {
  return { name, fields: fieldsOf(storeRRPair) };
}

export function keyOf(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export type SearchDoc = Record<string, string | number | null>;

/** The search document of an index document. */
export function searchDocOf(doc: IndexDoc, rrpairJson?: string): SearchDoc {
  const out: SearchDoc = { [KEY]: keyOf(doc.id) };
  const known = new Set<string>(INDEX_FIELDS);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (v === undefined) continue;
    if (known.has(k)) out[k] = v as string | number;
    else extra[k] = v;
  }
  out[EXTRA] = Object.keys(extra).length ? JSON.stringify(extra) : null;
  if (rrpairJson !== undefined) out[RRPAIR] = rrpairJson;
  return out;
}

/** The index document of a search document. */
export function indexDocOfSearch(d: Record<string, unknown>): IndexDoc {
  const doc = {} as IndexDoc;
  for (const name of INDEX_FIELDS) {
    const v = d[name];
    if (v === null || v === undefined) continue;
    (doc as Record<string, unknown>)[name] = v;
  }
  if (typeof d[EXTRA] === 'string') Object.assign(doc, JSON.parse(d[EXTRA]) as Record<string, string | number | boolean>);
  return doc;
}

/** Why a document cannot be indexed (a filterable string over the term limit), if it cannot. */
export function problemOf(d: SearchDoc, fields: SearchField[]): string | undefined {
  for (const f of fields) {
    const v = d[f.name];
    if (typeof v !== 'string' || !('filterable' in f && (f.filterable || f.sortable || f.facetable))) continue;
    const n = Buffer.byteLength(v);
    if (n > MAX_TERM_BYTES) return `${f.name} is ${n} bytes (AI Search's limit for a filterable or sortable string is ${MAX_TERM_BYTES} bytes)`;
  }
  return undefined;
}
