import { INDEX_FIELDS } from '../../rrpair/index-doc.js';

/** The table's columns: typed index fields, the exact ts text, and the full RRPair as dynamic. */
export const ADX_COLUMNS: readonly (readonly [string, string])[] = [
  ...INDEX_FIELDS.map((f): [string, string] => [f, f === 'ts' ? 'datetime' : f === 'duration' ? 'real' : f === 'req_size' || f === 'res_size' ? 'long' : 'string']),
  // datetime keeps 100ns ticks; the index document's ts has nanoseconds, kept here as written.
  ['ts_text', 'string'],
  ['rrpair', 'dynamic'],
];

export interface AdxSchemaOptions {
  table: string;
  mapping: string;
  /** Retention in milliseconds. */
  retentionMs: number;
  streaming: boolean;
}

export function quoteName(n: string): string {
  return `['${n.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

function timespan(ms: number): string {
  const days = Math.max(1, Math.round(ms / 86_400_000));
  return `${days}d`;
}

/** The JSON ingestion mapping: each column from the same-named property of the ingested line. */
export function jsonMapping(): { column: string; Properties: { Path: string } }[] {
  return ADX_COLUMNS.map(([c]) => ({ column: c, Properties: { Path: `$.${c}` } }));
}

/** The management commands that set the database up; `rrpipe adx-schema` prints them. */
export function schemaCommands(o: AdxSchemaOptions): string[] {
  const cols = ADX_COLUMNS.map(([c, t]) => `${quoteName(c)}:${t}`).join(', ');
  const cmds = [
    `.create-merge table ${quoteName(o.table)} (${cols})`,
    `.create-or-alter table ${quoteName(o.table)} ingestion json mapping '${o.mapping.replace(/'/g, "\\'")}' '${JSON.stringify(jsonMapping())}'`,
    `.alter-merge table ${quoteName(o.table)} policy retention softdelete = ${timespan(o.retentionMs)} recoverability = disabled`,
  ];
  if (o.streaming) cmds.push(`.alter table ${quoteName(o.table)} policy streamingingestion enable`);
  return cmds;
}
