/**
 * The part of LogQL the Loki fake answers (Loki 2.9, written from the LogQL documentation):
 * stream selectors (`=`, `!=`, `=~`, `!~`, at least one matcher that cannot match the empty
 * value), line filters (`|=`, `!=`, `|~`, `!~`), the `| json` parser (nested keys joined with
 * `_`, arrays skipped, `_extracted` on a clash, `__error__="JSONParserErr"`), and label filters
 * (`| name op "value"`). Anything else is a parse error naming what the fake does not implement,
 * so a test can never pass on a query it silently misread. Regexes are RE2 (re2js), as Loki's Go
 * regexp: label matchers anchored, line filters not.
 */
import { RE2JS } from 're2js';

export class LogQLError extends Error {}

type Op = '=' | '!=' | '=~' | '!~';
export interface Matcher {
  name: string;
  op: Op;
  value: string;
  test(v: string): boolean;
}
type Stage =
  | { kind: 'line'; op: '|=' | '!=' | '|~' | '!~'; value: string; test(line: string): boolean }
  | { kind: 'json' }
  | { kind: 'label'; matcher: Matcher };

export interface LogQuery {
  selector: Matcher[];
  stages: Stage[];
}

function matcher(name: string, op: Op, value: string): Matcher {
  if (op === '=' || op === '!=') return { name, op, value, test: (v) => (v === value) === (op === '=') };
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${value})$`);
  } catch (err) {
    throw new LogQLError(`invalid regex ${JSON.stringify(value)}: ${(err as Error).message}`);
  }
  return { name, op, value, test: (v) => re.matcher(v).matches() === (op === '=~') };
}

class Lexer {
  pos = 0;
  constructor(readonly src: string) {}
  fail(msg: string): never {
    throw new LogQLError(`parse error at line 1, col ${this.pos + 1}: ${msg}`);
  }
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }
  peek(s: string): boolean {
    this.ws();
    return this.src.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.peek(s)) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.fail(`syntax error: expected ${s}`);
  }
  done(): boolean {
    this.ws();
    return this.pos >= this.src.length;
  }
  ident(): string {
    this.ws();
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(this.src.slice(this.pos));
    if (!m) this.fail('syntax error: expected a label name');
    this.pos += m[0].length;
    return m[0];
  }
  op(): Op {
    for (const o of ['=~', '!~', '!=', '=='] as const) if (this.eat(o)) return o === '==' ? '=' : o;
    if (this.eat('=')) return '=';
    return this.fail('syntax error: expected one of =, !=, =~, !~');
  }
  string(): string {
    this.ws();
    const q = this.src[this.pos];
    if (q === '`') {
      const end = this.src.indexOf('`', this.pos + 1);
      if (end < 0) this.fail('unterminated raw string');
      const s = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
      return s;
    }
    if (q !== '"') this.fail('syntax error: expected a string');
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.src[this.pos++];
      if (c === undefined) {
        this.pos = start;
        this.fail('unterminated string');
      }
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.src[this.pos++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v', "'": "'" };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const h = this.src.slice(this.pos, this.pos + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail('invalid escape in string');
        out += e === 'x' ? String.fromCharCode(parseInt(h, 16)) : String.fromCodePoint(parseInt(h, 16));
        this.pos += n;
      } else this.fail(`invalid escape \\${e ?? ''} in string`);
    }
  }
}

/** Go's strconv.Unquote-compatible parse of a label set `{a="b", c="d"}` (what a push carries). */
export function parseLabelSet(text: string): Map<string, string> {
  const lx = new Lexer(text);
  const out = new Map<string, string>();
  lx.expect('{');
  if (!lx.eat('}')) {
    do {
      const name = lx.ident();
      if (!lx.eat('=')) lx.fail('syntax error: expected =');
      const value = lx.string();
      if (out.has(name)) throw new LogQLError(`duplicate label name: '${name}'`);
      out.set(name, value);
    } while (lx.eat(','));
    lx.expect('}');
  }
  if (!lx.done()) lx.fail('syntax error: unexpected text after the label set');
  return out;
}

export function parseLogQL(query: string): LogQuery {
  const lx = new Lexer(query);
  if (!lx.peek('{')) lx.fail('syntax error: a log query starts with a stream selector {…} (metric queries are not implemented by the fake)');
  lx.expect('{');
  const selector: Matcher[] = [];
  do {
    if (lx.peek('}')) break;
    const name = lx.ident();
    const op = lx.op();
    selector.push(matcher(name, op, lx.string()));
  } while (lx.eat(','));
  lx.expect('}');
  if (!selector.some((m) => !m.test('') && (m.op === '=' || m.op === '=~'))) {
    throw new LogQLError('parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will');
  }
  const stages: Stage[] = [];
  while (!lx.done()) {
    const lineOp = (['|=', '!=', '|~', '!~'] as const).find((op) => lx.eat(op));
    if (lineOp) {
      const value = lx.string();
      if (lineOp === '|=' || lineOp === '!=') stages.push({ kind: 'line', op: lineOp, value, test: (l) => l.includes(value) === (lineOp === '|=') });
      else {
        let re: RE2JS;
        try {
          re = RE2JS.compile(value);
        } catch (err) {
          throw new LogQLError(`invalid regex ${JSON.stringify(value)}: ${(err as Error).message}`);
        }
        stages.push({ kind: 'line', op: lineOp, value, test: (l) => re.matcher(l).find() === (lineOp === '|~') });
      }
      continue;
    }
    if (!lx.eat('|')) lx.fail('syntax error: unexpected text');
    const name = lx.ident();
    if (name === 'json') {
      if (!lx.done() && !lx.peek('|') && !lx.peek('!')) lx.fail('the fake implements `| json` without parameters only');
      stages.push({ kind: 'json' });
      continue;
    }
    if (['logfmt', 'regexp', 'pattern', 'unpack', 'line_format', 'label_format', 'keep', 'drop', 'decolorize', 'unwrap'].includes(name)) {
      lx.fail(`the fake does not implement the ${name} stage`);
    }
    const op = lx.op();
    stages.push({ kind: 'label', matcher: matcher(name, op, lx.string()) });
    if (lx.peek(',') || lx.peek('and ') || lx.peek('or ')) lx.fail('the fake does not implement combined label filters');
  }
  return { selector, stages };
}

function sanitizeKey(key: string, isPrefix: boolean): string {
  let k = key.trim();
  if (!k) return k;
  if (isPrefix && k[0]! >= '0' && k[0]! <= '9') k = `_${k}`;
  return k.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** The labels `| json` extracts from a line. */
export function jsonLabels(line: string): Map<string, string> | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const out = new Map<string, string>();
  const walk = (prefix: string, o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}_${sanitizeKey(k, false)}` : sanitizeKey(k, true);
      if (!key) continue;
      if (Array.isArray(v)) continue;
      if (v !== null && typeof v === 'object') walk(key, v as Record<string, unknown>);
      else out.set(key, v === null ? '' : String(v));
    }
  };
  walk('', doc as Record<string, unknown>);
  return out;
}

/** Runs the pipeline on one entry: the resulting labels, or undefined when a stage drops it. */
export function runPipeline(q: LogQuery, stream: Map<string, string>, line: string): Map<string, string> | undefined {
  let labels = stream;
  for (const st of q.stages) {
    if (st.kind === 'line') {
      if (!st.test(line)) return undefined;
    } else if (st.kind === 'json') {
      const extracted = jsonLabels(line);
      labels = new Map(labels);
      if (!extracted) labels.set('__error__', 'JSONParserErr');
      else for (const [k, v] of extracted) labels.set(stream.has(k) ? `${k}_extracted` : k, v);
    } else if (!st.matcher.test(labels.get(st.matcher.name) ?? '')) return undefined;
  }
  return labels;
}
