import type { BoolNode, CallNode, Key, Node } from './ast.js';
import { compilePath, LOG_ENUMS, walkGet, type CompiledPath, type ContextName, type EvalCtx, type Getter, type KeyGetter } from './context.js';
import { OttlError, OttlRuntimeError } from './errors.js';
import { CONVERTERS, EDITORS, type ArgTools, type FunctionDef } from './functions.js';
import { parseCondition, parseStatement } from './parser.js';
import { compileRegex, type Regex } from './regex.js';
import { compare, isNil, put, typeName } from './values.js';

/**
 * OTTL text is parsed and compiled once, at config time, into closures over the record
 * (no text is looked at per record). Compile errors carry the offset of what they are about.
 */

export type Condition = (c: EvalCtx) => boolean;
export type Statement = (c: EvalCtx) => void;

class Compiler implements ArgTools {
  constructor(private readonly ctxName: ContextName) {}

  value(n: Node): Getter {
    switch (n.kind) {
      case 'string':
      case 'int':
      case 'float':
      case 'bool':
      case 'bytes': {
        const v = n.value;
        return () => v;
      }
      case 'nil':
        return () => null;
      case 'enum': {
        const v = LOG_ENUMS[n.name];
        if (v === undefined) throw new OttlError(`unknown enum "${n.name}"`, n.at);
        return () => v;
      }
      case 'list': {
        const items = n.items.map((i) => this.value(i));
        return (c) => items.map((g) => g(c));
      }
      case 'map': {
        const entries = n.entries.map((e) => [e.key, this.value(e.value)] as const);
        return (c) => {
          const out: Record<string, unknown> = {};
          for (const [k, g] of entries) put(out, k, g(c));
          return out;
        };
      }
      case 'path':
        return this.path(n).get;
      case 'call':
        return this.converter(n);
      case 'neg': {
        const g = this.value(n.operand);
        return (c) => {
          const v = g(c);
          if (typeof v === 'bigint') return -v;
          if (typeof v === 'number') return -v;
          throw new OttlRuntimeError(`cannot negate ${typeName(v)}`);
        };
      }
      case 'math':
        return this.math(n.op, this.value(n.left), this.value(n.right));
    }
  }

  private math(op: '+' | '-' | '*' | '/', l: Getter, r: Getter): Getter {
    return (c) => {
      const a = l(c);
      const b = r(c);
      if (typeof a === 'bigint' && typeof b === 'bigint') {
        if (op === '/' && b === 0n) throw new OttlRuntimeError('attempted to divide by 0');
        return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
      }
      if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
        // int64 and float64 mixed: OTTL refuses; rrpipe computes in float64, because JSON numbers
        // from a record do not say whether they were ints or doubles.
        const x = Number(a);
        const y = Number(b);
        if (op === '/' && y === 0) throw new OttlRuntimeError('attempted to divide by 0');
        return op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y;
      }
      throw new OttlRuntimeError(`cannot compute ${typeName(a)} ${op} ${typeName(b)}`);
    };
  }

  private keys(keys: Key[]): KeyGetter[] {
    return keys.map((k) => {
      if ('value' in k) {
        const v = k.value;
        return () => v;
      }
      const g = this.value(k.expr);
      return (c: EvalCtx) => {
        const v = g(c);
        if (typeof v === 'string' || typeof v === 'bigint') return v;
        if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
        throw new OttlRuntimeError(`a key must be a string or an int, not ${typeName(v)}`);
      };
    });
  }

  private path(n: Extract<Node, { kind: 'path' }>): CompiledPath {
    return compilePath(n, this.ctxName, this.keys(n.keys));
  }

  target(n: Node): CompiledPath {
    if (n.kind !== 'path') throw new OttlError('the target must be a path such as attributes["key"]', n.at);
    const p = this.path(n);
    if (!p.set) throw new OttlError(`"${p.text}" cannot be set: rrpipe records do not carry it (it reads as its zero value)`, n.at);
    return p;
  }

  literal(n: Node, what: string): string {
    if (n.kind !== 'string') throw new OttlError(`${what} must be a string literal`, n.at);
    return n.value;
  }

  literalList(n: Node, what: string): string[] {
    if (n.kind !== 'list') throw new OttlError(`${what} must be a list of string literals`, n.at);
    return n.items.map((i) => this.literal(i, `each of ${what}`));
  }

  regex(n: Node): Regex {
    const p = this.literal(n, 'the pattern');
    try {
      return compileRegex(p);
    } catch (err) {
      throw new OttlError(`invalid regex (RE2 syntax): ${(err as Error).message}`, n.at);
    }
  }

  private args(call: CallNode, def: FunctionDef): (Node | undefined)[] {
    const out: (Node | undefined)[] = new Array(def.params.length).fill(undefined);
    call.args.forEach((a, i) => {
      if (a.name === undefined) {
        if (i >= def.params.length) throw new OttlError(`${call.name} takes at most ${def.params.length} argument(s)`, a.at);
        out[i] = a.value;
        return;
      }
      const j = def.params.indexOf(a.name);
      if (j < 0) throw new OttlError(`${call.name} has no argument named "${a.name}" (it takes ${def.params.join(', ')})`, a.at);
      if (out[j] !== undefined) throw new OttlError(`argument "${a.name}" is given twice`, a.at);
      out[j] = a.value;
    });
    for (let i = 0; i < def.required; i++) {
      if (out[i] === undefined) throw new OttlError(`${call.name}(${def.params.join(', ')}) is missing its "${def.params[i]}" argument`, call.at);
    }
    return out;
  }

  private converter(n: CallNode): Getter {
    const def = CONVERTERS[n.name];
    if (!def) {
      throw new OttlError(`unknown converter "${n.name}" (rrpipe implements ${Object.keys(CONVERTERS).sort().join(', ')})`, n.at);
    }
    const g = def.compile(this.args(n, def), this, n.at);
    if (n.keys.length === 0) return g;
    const keys = this.keys(n.keys);
    return (c) => walkGet(g(c), keys, c);
  }

  editor(n: CallNode): (c: EvalCtx) => void {
    const def = EDITORS[n.name];
    if (!def) throw new OttlError(`unknown editor "${n.name}" (rrpipe implements ${Object.keys(EDITORS).sort().join(', ')})`, n.at);
    const g = def.compile(this.args(n, def), this, n.at);
    return (c) => {
      g(c);
    };
  }

  bool(n: BoolNode): Condition {
    switch (n.kind) {
      case 'or': {
        const l = this.bool(n.left);
        const r = this.bool(n.right);
        return (c) => l(c) || r(c);
      }
      case 'and': {
        const l = this.bool(n.left);
        const r = this.bool(n.right);
        return (c) => l(c) && r(c);
      }
      case 'not': {
        const o = this.bool(n.operand);
        return (c) => !o(c);
      }
      case 'compare': {
        const l = this.value(n.left);
        const r = this.value(n.right);
        const op = n.op;
        return (c) => compare(op, l(c), r(c));
      }
      case 'value': {
        const g = this.value(n.value);
        return (c) => {
          const v = g(c);
          if (typeof v !== 'boolean') throw new OttlRuntimeError(`a condition must be a bool, got ${isNil(v) ? 'nil' : typeName(v)}`);
          return v;
        };
      }
    }
  }
}

/** Compile a condition (filter's log_record, a transform group's conditions). Throws OttlError. */
export function compileCondition(text: string, ctxName: ContextName = 'log'): Condition {
  return new Compiler(ctxName).bool(parseCondition(text));
}

/** Compile a statement (`editor(...) [where ...]`). Throws OttlError. */
export function compileStatement(text: string, ctxName: ContextName = 'log'): Statement {
  const st = parseStatement(text);
  const comp = new Compiler(ctxName);
  const run = comp.editor(st.editor);
  if (!st.where) return run;
  const when = comp.bool(st.where);
  return (c) => {
    if (when(c)) run(c);
  };
}
