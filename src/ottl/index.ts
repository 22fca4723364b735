/**
 * OTTL (the OpenTelemetry Transformation Language) over rrpipe records: a parser, a compiler to
 * closures, the log/resource contexts and the functions the Speedscale BYOC charts use. Shared by
 * the filter and transform processors.
 */
import type { ConfigProblem } from '../core/component.js';
import type { RRRecord } from '../core/record.js';
import type { EvalCtx } from './context.js';
import { OttlError } from './errors.js';

export { compileCondition, compileStatement, type Condition, type Statement } from './compile.js';
export { type ContextName, type EvalCtx } from './context.js';
export { ERROR_MODES, OttlError, OttlRuntimeError, type ErrorMode } from './errors.js';
export { compileRegex, regexProblem, type Regex } from './regex.js';

export function evalCtx(record: RRRecord): EvalCtx {
  return { record, cache: {} };
}

/**
 * A config problem for OTTL text at `path`: the message names the column inside the string and
 * shows it, and `offset` lets the config loader point file:line:column at the exact character.
 */
export function ottlProblem(err: unknown, text: string, path: (string | number)[]): ConfigProblem {
  if (!(err instanceof OttlError)) return { path, message: `invalid OTTL: ${(err as Error).message}` };
  const at = Math.max(0, Math.min(err.offset, text.length));
  const caret = `${' '.repeat(at)}^`;
  return { path, offset: at, message: `${err.message} at column ${at + 1} of the OTTL text:\n    ${text}\n    ${caret}` };
}
