/**
 * The subset of Timestream SQL the awstimestream exporter writes, parsed strictly:
 *   SELECT * FROM "db"."table" WHERE <cond> ORDER BY time ASC, id ASC [LIMIT n]
 * cond: AND / OR / parentheses over `col op 'string'`, `time op from_nanoseconds(n)` and
 * `col IS NULL`. Anything else is a ValidationException, as an unknown construct would be.
 */

export type Cond =
  | { kind: 'and' | 'or'; parts: Cond[] }
  | { kind: 'cmp'; col: string; op: '=' | '>' | '>=' | '<' | '<='; value: string | bigint }
  | { kind: 'null'; col: string };

export interface Select {
  database: string;
  table: string;
  where: Cond;
  limit?: number;
}

type Tok = { t: 'kw' | 'ident' | 'qident' | 'str' | 'num' | 'op' | 'punct'; v: string };

const KEYWORDS = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'ORDER', 'BY', 'ASC', 'LIMIT', 'IS', 'NULL']);

export class SqlError extends Error {}

function tokenize(sql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new SqlError('unterminated string literal');
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") { v += "'"; i += 2; continue; }
          i++;
          break;
        }
        v += sql[i++];
      }
      out.push({ t: 'str', v });
      continue;
    }
    if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      if (end < 0) throw new SqlError('unterminated quoted identifier');
      out.push({ t: 'qident', v: sql.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const m = /^(>=|<=|[=<>])/.exec(sql.slice(i));
    if (m) { out.push({ t: 'op', v: m[1]! }); i += m[1]!.length; continue; }
    if ('(),.*'.includes(c)) { out.push({ t: 'punct', v: c }); i++; continue; }
    const w = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i));
    if (w) {
      const up = w[0].toUpperCase();
      out.push(KEYWORDS.has(up) ? { t: 'kw', v: up } : { t: 'ident', v: w[0] });
      i += w[0].length;
      continue;
    }
    const n = /^\d+/.exec(sql.slice(i));
    if (n) { out.push({ t: 'num', v: n[0] }); i += n[0].length; continue; }
    throw new SqlError(`line 1:${i + 1}: unexpected character '${c}'`);
  }
  return out;
}

export function parseSelect(sql: string): Select {
  const toks = tokenize(sql);
  let p = 0;
  const peek = () => toks[p];
  const take = (t: Tok['t'], v?: string): Tok => {
    const k = toks[p];
    if (!k || k.t !== t || (v !== undefined && k.v !== v)) throw new SqlError(`line 1: expected ${v ?? t} at token ${p + 1}, got ${k ? k.v : 'end of query'}`);
    p++;
    return k;
  };
  take('kw', 'SELECT');
  take('punct', '*');
  take('kw', 'FROM');
  const database = take('qident').v;
  take('punct', '.');
  const table = take('qident').v;
  take('kw', 'WHERE');
  const value = (): string | bigint => {
    const k = peek();
    if (k?.t === 'str') { p++; return k.v; }
    if (k?.t === 'ident' && k.v === 'from_nanoseconds') {
      p++;
      take('punct', '(');
      const n = take('num').v;
      take('punct', ')');
      return BigInt(n);
    }
    throw new SqlError(`line 1: expected a string literal or from_nanoseconds(n) at token ${p + 1}`);
  };
  const primary = (): Cond => {
    if (peek()?.t === 'punct' && peek()!.v === '(') {
      p++;
      const c = or();
      take('punct', ')');
      return c;
    }
    const col = take('ident').v;
    if (peek()?.t === 'kw' && peek()!.v === 'IS') {
      p++;
      take('kw', 'NULL');
      return { kind: 'null', col };
    }
    const op = take('op').v as '=' | '>' | '>=' | '<' | '<=';
    return { kind: 'cmp', col, op, value: value() };
  };
  const and = (): Cond => {
    const parts = [primary()];
    while (peek()?.t === 'kw' && peek()!.v === 'AND') { p++; parts.push(primary()); }
    return parts.length === 1 ? parts[0]! : { kind: 'and', parts };
  };
  const or = (): Cond => {
    const parts = [and()];
    while (peek()?.t === 'kw' && peek()!.v === 'OR') { p++; parts.push(and()); }
    return parts.length === 1 ? parts[0]! : { kind: 'or', parts };
  };
  const where = or();
  take('kw', 'ORDER');
  take('kw', 'BY');
  take('ident', 'time');
  take('kw', 'ASC');
  take('punct', ',');
  take('ident', 'id');
  take('kw', 'ASC');
  let limit: number | undefined;
  if (peek()?.t === 'kw' && peek()!.v === 'LIMIT') {
    p++;
    limit = Number(take('num').v);
  }
  if (p !== toks.length) throw new SqlError(`line 1: unexpected ${toks[p]!.v} after the query`);
  return { database, table, where, ...(limit !== undefined ? { limit } : {}) };
}

/** Evaluate a condition on a row (time as bigint ns, other columns strings or absent). */
export function evaluate(c: Cond, row: Record<string, string | bigint | undefined>, columns: Set<string>): boolean {
  switch (c.kind) {
    case 'and': return c.parts.every((x) => evaluate(x, row, columns));
    case 'or': return c.parts.some((x) => evaluate(x, row, columns));
    case 'null':
      if (!columns.has(c.col)) throw new SqlError(`line 1: Column '${c.col}' does not exist`);
      return row[c.col] === undefined;
    case 'cmp': {
      if (!columns.has(c.col)) throw new SqlError(`line 1: Column '${c.col}' does not exist`);
      const v = row[c.col];
      if (v === undefined) return false;
      if ((typeof v === 'bigint') !== (typeof c.value === 'bigint')) throw new SqlError(`line 1: '${c.op}' cannot be applied to ${typeof v === 'bigint' ? 'timestamp' : 'varchar'}, ${typeof c.value === 'bigint' ? 'timestamp' : 'varchar(x)'}`);
      const cmp = v < c.value ? -1 : v > c.value ? 1 : 0;
      return c.op === '=' ? cmp === 0 : c.op === '>' ? cmp > 0 : c.op === '>=' ? cmp >= 0 : c.op === '<' ? cmp < 0 : cmp <= 0;
    }
  }
}
