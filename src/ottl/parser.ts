import type { Arg, BoolNode, CallNode, CompareOp, Key, Node, PathNode, Statement } from './ast.js';
import { OttlError } from './errors.js';

/*
 * A hand-written recursive-descent parser for OTTL (grammar: contrib pkg/ottl/LANGUAGE.md).
 * Hand-written rather than generated because the grammar is small (a dozen rules), every error
 * must name the exact character it is about (file:line:column in the config), and the messages
 * are worded for people writing YAML, which generic parser-generator messages are not.
 */

type TokKind = 'ident' | 'string' | 'int' | 'float' | 'bytes' | 'op' | 'eof';

interface Token {
  kind: TokKind;
  text: string;
  at: number;
  value?: string | bigint | number | Uint8Array;
}

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', '(', ')', '[', ']', '{', '}', ',', '.', ':', '+', '-', '*', '/', '='];
const COMPARE = new Set(['==', '!=', '<', '<=', '>', '>=']);
const KEYWORDS = new Set(['and', 'or', 'not', 'where', 'true', 'false', 'nil']);

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const at = i;
    if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new OttlError('unterminated string (a closing " is missing)', at);
        const d = src[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\') {
          const e = src[i + 1];
          const simple: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r', '/': '/', b: '\b', f: '\f', a: '\x07', v: '\v', "'": "'" };
          if (e !== undefined && simple[e] !== undefined) {
            s += simple[e];
            i += 2;
          } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) {
            s += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16));
            i += 6;
          } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(src.slice(i + 2, i + 4))) {
            s += String.fromCharCode(parseInt(src.slice(i + 2, i + 4), 16));
            i += 4;
          } else {
            throw new OttlError(`unknown escape "\\${e ?? ''}" in string (write "\\\\" for a backslash, as in regexes: "\\\\d+")`, i);
          }
          continue;
        }
        s += d;
        i++;
      }
      out.push({ kind: 'string', text: src.slice(at, i), at, value: s });
      continue;
    }
    if (c === '0' && (src[i + 1] === 'x' || src[i + 1] === 'X')) {
      const m = /^0[xX]([0-9a-fA-F]*)/.exec(src.slice(i))!;
      if (m[1]!.length === 0 || m[1]!.length % 2 !== 0) throw new OttlError('a byte slice literal needs an even number of hex digits after 0x', at);
      i += m[0].length;
      out.push({ kind: 'bytes', text: m[0], at, value: Uint8Array.from(Buffer.from(m[1]!, 'hex')) });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(\d*\.\d+|\d+\.(?!\w)|\d+)([eE][+-]?\d+)?/.exec(src.slice(i))!;
      i += m[0].length;
      if (/[A-Za-z_]/.test(src[i] ?? '')) throw new OttlError(`invalid number "${src.slice(at, i + 1)}"`, at);
      const isFloat = m[0].includes('.') || m[2] !== undefined;
      out.push({ kind: isFloat ? 'float' : 'int', text: m[0], at, value: isFloat ? Number(m[0]) : BigInt(m[0]) });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ kind: 'ident', text: m[0], at });
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new OttlError(`unexpected character "${c}"`, at);
    i += op.length;
    out.push({ kind: 'op', text: op, at });
  }
  out.push({ kind: 'eof', text: '', at: src.length });
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  private get tok(): Token {
    return this.toks[this.pos]!;
  }
  private peek(n = 1): Token {
    return this.toks[Math.min(this.pos + n, this.toks.length - 1)]!;
  }
  private isOp(text: string, t = this.tok): boolean {
    return t.kind === 'op' && t.text === text;
  }
  private isWord(text: string, t = this.tok): boolean {
    return t.kind === 'ident' && t.text === text;
  }
  fail(expected: string, t = this.tok): never {
    const what = t.kind === 'eof' ? 'end of the expression' : `"${t.text}"`;
    throw new OttlError(`unexpected ${what} (expected ${expected})`, t.at);
  }
  private expectOp(text: string, what = `"${text}"`): Token {
    if (!this.isOp(text)) this.fail(what);
    return this.toks[this.pos++]!;
  }
  end(): void {
    if (this.tok.kind !== 'eof') this.fail('the end of the expression, "and" or "or"');
  }

  statement(): Statement {
    const t = this.tok;
    if (t.kind !== 'ident' || KEYWORDS.has(t.text) || !this.isOp('(', this.peek())) this.fail('an editor call such as set(...)');
    if (!/^[a-z]/.test(t.text)) throw new OttlError(`a statement starts with an editor (a lowercase function such as set or delete_key); "${t.text}" is a converter`, t.at);
    const editor = this.call();
    if (editor.keys.length) throw new OttlError('an editor result cannot be indexed', editor.keys[0]!.at);
    let where: BoolNode | undefined;
    if (this.isWord('where')) {
      this.pos++;
      where = this.boolExpr();
    }
    if (this.tok.kind !== 'eof') this.fail(where ? 'the end of the statement, "and" or "or"' : 'the end of the statement or "where"');
    return { editor, ...(where ? { where } : {}) };
  }

  boolExpr(): BoolNode {
    let left = this.andExpr();
    while (this.isWord('or')) {
      const at = this.tok.at;
      this.pos++;
      left = { kind: 'or', at, left, right: this.andExpr() };
    }
    return left;
  }

  private andExpr(): BoolNode {
    let left = this.notExpr();
    while (this.isWord('and')) {
      const at = this.tok.at;
      this.pos++;
      left = { kind: 'and', at, left, right: this.notExpr() };
    }
    return left;
  }

  private notExpr(): BoolNode {
    if (this.isWord('not')) {
      const at = this.tok.at;
      this.pos++;
      return { kind: 'not', at, operand: this.notExpr() };
    }
    return this.boolPrimary();
  }

  private boolPrimary(): BoolNode {
    if (this.isOp('(')) {
      // "(" opens either a boolean group or a math group such as (1 + 2) == 3: try the first.
      const save = this.pos;
      try {
        this.pos++;
        const inner = this.boolExpr();
        this.expectOp(')');
        if (!(this.tok.kind === 'op' && (COMPARE.has(this.tok.text) || '+-*/'.includes(this.tok.text)))) return inner;
      } catch (err) {
        if (!(err instanceof OttlError)) throw err;
      }
      this.pos = save;
    }
    const start = this.tok;
    const left = this.value();
    if (this.tok.kind === 'op' && COMPARE.has(this.tok.text)) {
      const op = this.tok.text as CompareOp;
      this.pos++;
      return { kind: 'compare', at: start.at, op, left, right: this.value() };
    }
    if (this.tok.kind === 'op' && this.tok.text === '=') throw new OttlError('"=" is not a comparison; use "=="', this.tok.at);
    if (left.kind === 'bool' || (left.kind === 'call' && /^[A-Z]/.test(left.name))) return { kind: 'value', at: start.at, value: left };
    this.fail('a comparison operator (==, !=, <, <=, >, >=)');
  }

  /** A value, with + - * / and parentheses. */
  value(): Node {
    let left = this.term();
    while (this.tok.kind === 'op' && (this.tok.text === '+' || this.tok.text === '-')) {
      const op = this.tok.text as '+' | '-';
      const at = this.tok.at;
      this.pos++;
      left = { kind: 'math', at, op, left, right: this.term() };
    }
    return left;
  }

  private term(): Node {
    let left = this.factor();
    while (this.tok.kind === 'op' && (this.tok.text === '*' || this.tok.text === '/')) {
      const op = this.tok.text as '*' | '/';
      const at = this.tok.at;
      this.pos++;
      left = { kind: 'math', at, op, left, right: this.factor() };
    }
    return left;
  }

  private factor(): Node {
    const t = this.tok;
    if (this.isOp('(')) {
      this.pos++;
      const inner = this.value();
      this.expectOp(')', '")"');
      return inner;
    }
    if (this.isOp('-') || this.isOp('+')) {
      this.pos++;
      const operand = this.factor();
      if (t.text === '+') return operand;
      if (operand.kind === 'int') return { kind: 'int', at: t.at, value: -operand.value };
      if (operand.kind === 'float') return { kind: 'float', at: t.at, value: -operand.value };
      return { kind: 'neg', at: t.at, operand };
    }
    return this.primary();
  }

  private primary(): Node {
    const t = this.tok;
    switch (t.kind) {
      case 'string':
        this.pos++;
        return { kind: 'string', at: t.at, value: t.value as string };
      case 'int':
        this.pos++;
        return { kind: 'int', at: t.at, value: t.value as bigint };
      case 'float':
        this.pos++;
        return { kind: 'float', at: t.at, value: t.value as number };
      case 'bytes':
        this.pos++;
        return { kind: 'bytes', at: t.at, value: t.value as Uint8Array };
      case 'op':
        if (t.text === '[') return this.list();
        if (t.text === '{') return this.map();
        return this.fail('a value (a path, a literal, a list, a map or a converter call)');
      case 'ident':
        break;
      default:
        return this.fail('a value (a path, a literal, a list, a map or a converter call)');
    }
    if (t.text === 'true' || t.text === 'false') {
      this.pos++;
      return { kind: 'bool', at: t.at, value: t.text === 'true' };
    }
    if (t.text === 'nil') {
      this.pos++;
      return { kind: 'nil', at: t.at };
    }
    if (KEYWORDS.has(t.text)) this.fail('a value');
    if (this.isOp('(', this.peek())) {
      if (/^[a-z]/.test(t.text)) throw new OttlError(`"${t.text}" is an editor; only converters (functions starting with an uppercase letter) can be used as values`, t.at);
      return this.call();
    }
    if (/^[A-Z]/.test(t.text)) {
      this.pos++;
      return { kind: 'enum', at: t.at, name: t.text };
    }
    return this.path();
  }

  private path(): PathNode {
    const first = this.tok;
    const names = [{ name: first.text, at: first.at }];
    this.pos++;
    while (this.isOp('.')) {
      this.pos++;
      const n = this.tok;
      if (n.kind !== 'ident') this.fail('a field name after "."');
      names.push({ name: n.text, at: n.at });
      this.pos++;
    }
    return { kind: 'path', at: first.at, names, keys: this.keys() };
  }

  private keys(): Key[] {
    const keys: Key[] = [];
    while (this.isOp('[')) {
      this.pos++;
      const k = this.tok;
      if (k.kind === 'string' && this.isOp(']', this.peek())) {
        keys.push({ at: k.at, value: k.value as string });
        this.pos++;
      } else if (k.kind === 'int' && this.isOp(']', this.peek())) {
        keys.push({ at: k.at, value: k.value as bigint });
        this.pos++;
      } else {
        const expr = this.value();
        if (expr.kind !== 'path' && expr.kind !== 'call') throw new OttlError('a key is a string, an integer, a path or a converter call', k.at);
        keys.push({ at: k.at, expr });
      }
      this.expectOp(']', '"]"');
    }
    return keys;
  }

  private call(): CallNode {
    const name = this.tok;
    this.pos += 2; // name and "("
    const args: Arg[] = [];
    let named = false;
    if (!this.isOp(')')) {
      for (;;) {
        const at = this.tok.at;
        if (this.tok.kind === 'ident' && this.isOp('=', this.peek())) {
          const argName = this.tok.text;
          this.pos += 2;
          named = true;
          args.push({ name: argName, at, value: this.value() });
        } else {
          if (named) throw new OttlError('an unnamed argument cannot follow a named one', at);
          args.push({ at, value: this.value() });
        }
        if (this.isOp(',')) {
          this.pos++;
          continue;
        }
        break;
      }
    }
    this.expectOp(')', '"," or ")"');
    return { kind: 'call', at: name.at, name: name.text, args, keys: this.keys() };
  }

  private list(): Node {
    const at = this.tok.at;
    this.pos++;
    const items: Node[] = [];
    if (!this.isOp(']')) {
      for (;;) {
        items.push(this.value());
        if (!this.isOp(',')) break;
        this.pos++;
      }
    }
    this.expectOp(']', '"," or "]"');
    return { kind: 'list', at, items };
  }

  private map(): Node {
    const at = this.tok.at;
    this.pos++;
    const entries: { key: string; value: Node }[] = [];
    if (!this.isOp('}')) {
      for (;;) {
        const k = this.tok;
        if (k.kind !== 'string') this.fail('a map key (a string in double quotes)');
        this.pos++;
        this.expectOp(':', '":"');
        entries.push({ key: k.value as string, value: this.value() });
        if (!this.isOp(',')) break;
        this.pos++;
      }
    }
    this.expectOp('}', '"," or "}"');
    return { kind: 'map', at, entries };
  }
}

/** Parse an OTTL statement: `editor(args) [where condition]`. Throws OttlError with the offset of the problem. */
export function parseStatement(text: string): Statement {
  return new Parser(lex(text)).statement();
}

/** Parse an OTTL condition (a boolean expression). Throws OttlError with the offset of the problem. */
export function parseCondition(text: string): BoolNode {
  const p = new Parser(lex(text));
  const c = p.boolExpr();
  p.end();
  return c;
}
