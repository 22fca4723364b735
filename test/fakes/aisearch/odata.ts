/**
 * The subset of Azure AI Search's OData $filter the azureaisearch exporter writes, parsed
 * strictly: `and` / `or` / `not` / parentheses over `field eq|ne|gt|ge|lt|le literal`, literals
 * 'string' (with '' for a quote), integers, decimals, null. Anything else is an invalid
 * expression (400), as the service answers.
 */

export type Expr =
  | { kind: 'and' | 'or'; parts: Expr[] }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; value: string | number | null };

export class ODataError extends Error {}

type Tok = { t: 'word' | 'str' | 'num' | 'lp' | 'rp'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ') { i++; continue; }
    if (c === '(') { out.push({ t: 'lp', v: c }); i++; continue; }
    if (c === ')') { out.push({ t: 'rp', v: c }); i++; continue; }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new ODataError(`Invalid expression: unterminated string literal at position ${i}.`);
        if (s[i] === "'") {
          if (s[i + 1] === "'") { v += "'"; i += 2; continue; }
          i++;
          break;
        }
        v += s[i++];
      }
      out.push({ t: 'str', v });
      continue;
    }
    const n = /^-?\d+(\.\d+)?/.exec(s.slice(i));
    if (n) { out.push({ t: 'num', v: n[0] }); i += n[0].length; continue; }
    const w = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (w) { out.push({ t: 'word', v: w[0] }); i += w[0].length; continue; }
    throw new ODataError(`Invalid expression: Syntax error at position ${i} in '${s}'.`);
  }
  return out;
}

const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

export function parseFilter(s: string): Expr {
  const toks = tokenize(s);
  let p = 0;
  const peekWord = (w: string) => toks[p]?.t === 'word' && toks[p]!.v === w;
  const fail = (): never => {
    throw new ODataError(`Invalid expression: Syntax error at token ${p + 1} ('${toks[p]?.v ?? 'end'}') in '${s}'.`);
  };
  const primary = (): Expr => {
    if (peekWord('not')) { p++; return { kind: 'not', expr: primary() }; }
    if (toks[p]?.t === 'lp') {
      p++;
      const e = or();
      if (toks[p]?.t !== 'rp') fail();
      p++;
      return e;
    }
    const f = toks[p];
    if (f?.t !== 'word' || OPS.has(f.v) || f.v === 'and' || f.v === 'or') fail();
    p++;
    const op = toks[p];
    if (op?.t !== 'word' || !OPS.has(op.v)) fail();
    p++;
    const v = toks[p++];
    let value: string | number | null;
    if (v?.t === 'str') value = v.v;
    else if (v?.t === 'num') value = Number(v.v);
    else if (v?.t === 'word' && v.v === 'null') value = null;
    else return fail();
    return { kind: 'cmp', field: f!.v, op: op!.v as 'eq', value };
  };
  const and = (): Expr => {
    const parts = [primary()];
    while (peekWord('and')) { p++; parts.push(primary()); }
    return parts.length === 1 ? parts[0]! : { kind: 'and', parts };
  };
  const or = (): Expr => {
    const parts = [and()];
    while (peekWord('or')) { p++; parts.push(and()); }
    return parts.length === 1 ? parts[0]! : { kind: 'or', parts };
  };
  const e = or();
  if (p !== toks.length) fail();
  return e;
}

export function fieldsOf(e: Expr): string[] {
  return e.kind === 'cmp' ? [e.field] : e.kind === 'not' ? fieldsOf(e.expr) : e.parts.flatMap(fieldsOf);
}

export function matches(e: Expr, doc: Record<string, unknown>): boolean {
  switch (e.kind) {
    case 'and': return e.parts.every((x) => matches(x, doc));
    case 'or': return e.parts.some((x) => matches(x, doc));
    case 'not': return !matches(e.expr, doc);
    case 'cmp': {
      const v = doc[e.field] ?? null;
      if (e.op === 'eq') return v === e.value;
      if (e.op === 'ne') return v !== e.value;
      if (v === null || e.value === null) return false;
      if (typeof v !== typeof e.value) throw new ODataError(`Invalid expression: cannot compare field '${e.field}' with a literal of another type.`);
      const c = (v as string | number) < (e.value as string | number) ? -1 : (v as string | number) > (e.value as string | number) ? 1 : 0;
      return e.op === 'gt' ? c > 0 : e.op === 'ge' ? c >= 0 : e.op === 'lt' ? c < 0 : c <= 0;
    }
  }
}
