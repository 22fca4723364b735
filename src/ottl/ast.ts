/** The syntax tree of an OTTL statement or condition. Every node knows where it starts in the text. */

export type Node =
  | { kind: 'string'; at: number; value: string }
  | { kind: 'int'; at: number; value: bigint }
  | { kind: 'float'; at: number; value: number }
  | { kind: 'bool'; at: number; value: boolean }
  | { kind: 'nil'; at: number }
  | { kind: 'bytes'; at: number; value: Uint8Array }
  | { kind: 'enum'; at: number; name: string }
  | { kind: 'list'; at: number; items: Node[] }
  | { kind: 'map'; at: number; entries: { key: string; value: Node }[] }
  | PathNode
  | CallNode
  | { kind: 'math'; at: number; op: '+' | '-' | '*' | '/'; left: Node; right: Node }
  | { kind: 'neg'; at: number; operand: Node };

/** `resource.attributes["k"][0]`: dotted names, then keys (a literal or an expression). */
export interface PathNode {
  kind: 'path';
  at: number;
  names: { name: string; at: number }[];
  keys: Key[];
}

export type Key = { at: number; value: string | bigint } | { at: number; expr: Node };

/** An editor (lowercase, only at the top of a statement) or a converter (uppercase), with keys on its result. */
export interface CallNode {
  kind: 'call';
  at: number;
  name: string;
  args: Arg[];
  keys: Key[];
}

export interface Arg {
  name?: string;
  at: number;
  value: Node;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type BoolNode =
  | { kind: 'or' | 'and'; at: number; left: BoolNode; right: BoolNode }
  | { kind: 'not'; at: number; operand: BoolNode }
  | { kind: 'compare'; at: number; op: CompareOp; left: Node; right: Node }
  | { kind: 'value'; at: number; value: Node };

export interface Statement {
  editor: CallNode;
  where?: BoolNode;
}
