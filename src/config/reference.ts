import type { ConfigSchema, Factory, JSONSchema } from '../core/component.js';

/**
 * The generated reference (`npm run docs`, scripts/docs.mjs): each component README's
 * configuration table and stability line, and the README's component table, rendered from the
 * factories themselves, so the docs cannot drift from the schemas. The text sits between
 * `<!-- generated:NAME start -->` and `<!-- generated:NAME end -->` markers; the rest of a README
 * is written by hand.
 */

type S = JSONSchema & {
  type?: string | string[];
  properties?: Record<string, S>;
  required?: string[];
  additionalProperties?: S | boolean;
  items?: S;
  anyOf?: S[];
  oneOf?: S[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
};

export interface ConfigRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function isObject(s: S): boolean {
  return !!s.properties || s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
}

function alternatives(s: S): S[] {
  return [...(s.anyOf ?? []), ...(s.oneOf ?? [])];
}

/** The type column: JSON type plus rrpipe's marks (duration, bytes, secret, path, address). */
function typeOf(s: S): string {
  if (s['x-duration']) return 'duration';
  if (s['x-bytes']) return 'bytes';
  const marks = (['x-secret', 'x-path', 'x-address'] as const).filter((m) => s[m]).map((m) => m.slice(2));
  let t: string;
  if (s.enum) t = s.enum.map(code).join(' \\| ');
  else if (s.const !== undefined) t = code(s.const);
  else if (alternatives(s).length) t = [...new Set(alternatives(s).map(typeOf))].join(' \\| ');
  else if (s.type === 'array' || (Array.isArray(s.type) && s.type[0] === 'array')) t = s.items ? `${bare(typeOf(s.items))}[]` : 'array';
  else if (isObject(s) && !s.properties && typeof s.additionalProperties === 'object') t = `map of ${typeOf(s.additionalProperties)}`;
  else if (Array.isArray(s.type)) t = s.type.join(' \\| ');
  else t = s.type ?? 'any';
  return marks.length ? `${t} (${marks.join(', ')})` : t;
}

function bare(t: string): string {
  return t.includes(' ') ? `(${t})` : t;
}

function defaultOf(s: S, required: boolean): string {
  if (required) return 'required';
  const d = s.default;
  if (d === undefined) return '';
  if (isObject(s) && typeof d === 'object' && d !== null && !Array.isArray(d) && Object.keys(d).length === 0) return s.properties ? '' : '`{}`';
  return code(d);
}

function describe(s: S): string {
  const parts: string[] = [];
  if (s.description) parts.push(s.description);
  if (s['x-secret']) parts.push('Secret: masked in print-config, logs and errors.');
  const range = [s.minimum !== undefined ? `≥ ${s.minimum}` : '', s.maximum !== undefined ? `≤ ${s.maximum}` : ''].filter(Boolean).join(', ');
  if (range) parts.push(`(${range})`);
  return parts.join(' ');
}

const cell = (t: string) => t.replace(/\r?\n/g, ' ').replace(/\|/g, (m, i: number, all: string) => (all[i - 1] === '\\' ? m : '\\|'));

/** One row per key, nested keys as `a.b`, keys of list items as `a[].b`, of map values as `a.<name>.b`. */
export function configRows(schema: ConfigSchema): ConfigRow[] {
  const rows: ConfigRow[] = [];
  const walk = (s: S, prefix: string) => {
    const objects = [s, ...alternatives(s)].filter((x) => x.properties);
    for (const o of objects) {
      const req = new Set(o.required ?? []);
      for (const [k, child] of Object.entries(o.properties!)) {
        const key = prefix + k;
        rows.push({ key, type: typeOf(child), default: defaultOf(child, req.has(k)), description: describe(child) });
        walk(child, `${key}.`);
      }
    }
    if (s.items && typeof s.items === 'object') walk(s.items, `${prefix.slice(0, -1)}[].`);
    if (!s.properties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${prefix}<name>.`);
  };
  walk(schema as S, '');
  return rows;
}

export function configTable(schema: ConfigSchema): string {
  const rows = configRows(schema);
  if (rows.length === 0) return 'This component takes no configuration keys.';
  return [
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`),
  ].join('\n');
}

/** The stability line of one component folder (an archive type is an exporter and a connector). */
export function stabilityLine(factories: readonly Factory[]): string {
  const f = factories[0]!;
  const aliases = [...new Set(factories.flatMap((x) => x.aliases ?? []))];
  const kinds = factories.map((x) => (factories.length > 1 ? `${x.stability} as ${x.kind === 'exporter' ? 'an' : 'a'} ${x.kind}` : x.stability)).join(', ');
  return `**Stability:** ${kinds} · type \`${f.type}\`${aliases.length ? ` (alias ${aliases.map(code).join(', ')})` : ''} · ${f.description}`;
}

/** The README's component table: kind, type (linked to its folder), stability, one line. */
export function componentsTable(factories: readonly Factory[], folderOf: (f: Factory) => string | undefined): string {
  const rows = factories.map((f) => {
    const folder = folderOf(f);
    const type = folder ? `[${f.type}](${folder})` : f.type;
    const aliases = f.aliases?.length ? ` (${f.aliases.join(', ')})` : '';
    return `| ${f.kind} | ${type}${aliases} | ${f.stability} | ${cell(f.description)} |`;
  });
  return ['| kind | type | stability | description |', '|---|---|---|---|', ...rows].join('\n');
}

export const markers = (name: string) => ({ start: `<!-- generated:${name} start -->`, end: `<!-- generated:${name} end -->` });

/** `text` with the block between NAME's markers replaced by `content`, or undefined when the markers are missing. */
export function replaceBlock(text: string, name: string, content: string): string | undefined {
  const { start, end } = markers(name);
  const i = text.indexOf(start);
  const j = text.indexOf(end, i + start.length);
  if (i < 0 || j < 0) return undefined;
  return `${text.slice(0, i + start.length)}\n${content}\n${text.slice(j)}`;
}

export function block(name: string, content: string): string {
  const { start, end } = markers(name);
  return `${start}\n${content}\n${end}`;
}
