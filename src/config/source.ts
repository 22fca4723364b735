import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, Scalar } from 'yaml';
import { expandScalar, ExpandError, type ExpandContext } from './expand.js';

export interface Position {
  file: string;
  line: number;
  col: number;
}

/** Where each value (and its key, for map entries) was written. Keys are config paths joined by "\u0000". */
export interface PositionMap {
  value: Map<string, Position>;
  key: Map<string, Position>;
  /** For string scalars: where character `offset` of the parsed string was written (OTTL errors point into it). */
  inString?: Map<string, (offset: number) => Position>;
}

export interface ConfigIssue {
  pos?: Position;
  /** Dotted component or section, e.g. "exporters.awss3". */
  where?: string;
  message: string;
}

export function pathKey(path: readonly (string | number)[]): string {
  return path.join('\u0000');
}

export interface ParsedSource {
  file: string;
  value: unknown;
  positions: PositionMap;
}

/** Read one YAML config file, expanding ${...} references and recording positions. */
export function parseSource(file: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], warnings: string[], text?: string): ParsedSource | undefined {
  const abs = resolve(file);
  let src: string;
  try {
    src = text ?? readFileSync(abs, 'utf8');
  } catch (err) {
    issues.push({ message: `${file}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return undefined;
  }
  const lc = new LineCounter();
  const doc = parseDocument(src, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const posAt = (offset: number | undefined): Position => {
    const p = lc.linePos(offset ?? 0);
    return { file, line: p.line, col: p.col };
  };
  if (doc.errors.length) {
    for (const e of doc.errors) issues.push({ pos: posAt(e.pos[0]), message: `invalid YAML: ${e.message.split('\n')[0]}` });
    return undefined;
  }
  const positions: PositionMap = { value: new Map(), key: new Map(), inString: new Map() };
  const ctx: ExpandContext = { env, baseDir: dirname(abs), warnings };
  const walk = (node: Node | null | undefined, path: (string | number)[]): unknown => {
    if (node === null || node === undefined) return null;
    positions.value.set(pathKey(path), posAt(node.range?.[0]));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const keyNode = pair.key as Node | null;
        positions.key.set(pathKey([...path, k]), posAt(keyNode?.range?.[0]));
        const child = pair.value as Node | null;
        if (child === null) positions.value.set(pathKey([...path, k]), posAt(keyNode?.range?.[0]));
        out[k] = walk(child, [...path, k]);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => walk(item as Node, [...path, i]));
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v !== 'string') return v;
      const range = node.range;
      // Offsets are into the expanded string: a "$$" (a literal "$") was two characters in the YAML.
      const beforeExpand = (o: number) => {
        let i = 0;
        for (let n = 0; n < o && i < v.length; n++) i += v.startsWith('$$', i) ? 2 : 1;
        return i;
      };
      if (range) positions.inString!.set(pathKey(path), (offset) => posAt(scalarOffset(src, range[0], range[1], node.type, beforeExpand(offset))));
      try {
        return expandScalar(v, ctx, node.type === Scalar.PLAIN);
      } catch (err) {
        if (err instanceof ExpandError) {
          issues.push({ pos: posAt(node.range?.[0]), where: path.slice(0, 2).join('.'), message: err.message });
          return v;
        }
        throw err;
      }
    }
    return node.toJSON();
  };
  const value = walk(doc.contents as Node, []);
  return { file, value: value ?? {}, positions };
}

/**
 * The source offset of character `offset` of a scalar's value: past the opening quote, with
 * escapes ('' in single quotes, \n, \xNN, \uNNNN in double quotes) counted as one character and
 * block scalars' indentation skipped. Folded line breaks count as one character.
 */
function scalarOffset(src: string, start: number, end: number, type: Scalar.Type | undefined, offset: number): number {
  let i = start;
  if (type === Scalar.BLOCK_LITERAL || type === Scalar.BLOCK_FOLDED) {
    i = src.indexOf('\n', start) + 1;
    if (i <= 0) return start;
    const indent = /^[ ]*/.exec(src.slice(i))![0].length;
    let n = 0;
    i += indent;
    while (i < end && n < offset) {
      if (src[i] === '\n') {
        i++;
        i += Math.min(indent, /^[ ]*/.exec(src.slice(i))![0].length);
      } else i++;
      n++;
    }
    return i;
  }
  const quote = type === Scalar.QUOTE_SINGLE ? "'" : type === Scalar.QUOTE_DOUBLE ? '"' : undefined;
  if (quote) i++;
  let n = 0;
  while (i < end && n < offset) {
    const c = src[i];
    if (quote === "'" && c === "'" && src[i + 1] === "'") i += 2;
    else if (quote === '"' && c === '\\') {
      const e = src[i + 1];
      i += e === 'x' ? 4 : e === 'u' ? 6 : e === 'U' ? 10 : 2;
    } else if (c === '\n') {
      i++;
      while (src[i] === ' ' || src[i] === '\t') i++;
    } else i++;
    n++;
  }
  return i;
}

/** Deep-merge later sources over earlier ones (maps merge, everything else replaces), keeping positions. */
export function mergeSources(sources: ParsedSource[]): { value: Record<string, unknown>; positions: PositionMap } {
  const positions: PositionMap = { value: new Map(), key: new Map(), inString: new Map() };
  let value: unknown = {};
  for (const s of sources) {
    value = mergeValue(value, s.value);
    for (const [k, p] of s.positions.value) positions.value.set(k, p);
    for (const [k, p] of s.positions.key) positions.key.set(k, p);
    for (const [k, p] of s.positions.inString ?? []) positions.inString!.set(k, p);
  }
  return { value: (isPlainObject(value) ? value : {}) as Record<string, unknown>, positions };
}

function mergeValue(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeValue(out[k], v) : v;
    return out;
  }
  return b;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The nearest recorded position for a path: the value's own, else its key's, else an ancestor's. */
export function positionOf(positions: PositionMap, path: readonly (string | number)[], preferKey = false): Position | undefined {
  for (let i = path.length; i >= 0; i--) {
    const k = pathKey(path.slice(0, i));
    const p = preferKey || i < path.length ? positions.key.get(k) ?? positions.value.get(k) : positions.value.get(k) ?? positions.key.get(k);
    if (p) return p;
  }
  return undefined;
}

export function formatIssue(i: ConfigIssue): string {
  const at = i.pos ? `${i.pos.file}:${i.pos.line}:${i.pos.col}: ` : '';
  return `${at}${i.where ? `${i.where}: ` : ''}${i.message}`;
}
