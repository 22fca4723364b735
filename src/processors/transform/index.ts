import type { Component, ConfigProblem, Consumer, CreateSettings, ProcessorFactory } from '../../core/component.js';
import { obj, oneOf, raw, strings, withDefault, type Config } from '../../config/fragments.js';
import { PartialFailureError, type ItemFailure } from '../../core/errors.js';
import type { Context, RecordBatch } from '../../core/record.js';
import {
  compileCondition, compileStatement, ERROR_MODES, evalCtx, ottlProblem, OttlRuntimeError,
  type Condition, type ContextName, type ErrorMode, type Statement,
} from '../../ottl/index.js';

interface CompiledGroup {
  conditions: { text: string; test: Condition }[];
  statements: { text: string; run: Statement }[];
  errorMode: ErrorMode;
}

function groupsOf(c: TransformConfig): { group: StatementGroup; path: (string | number)[]; flat: boolean }[] {
  return c.log_statements.map((g, i) => (typeof g === 'string' ? { group: { statements: [g] }, path: ['log_statements', i], flat: true } : { group: g, path: ['log_statements', i], flat: false }));
}

function contextOf(g: StatementGroup): ContextName {
  return g.context === 'resource' ? 'resource' : 'log';
}

/** A statement failed under error_mode: propagate. */
class StatementFailure extends Error {}

/**
 * The OTel transform processor for logs: OTTL statements run in order on every record, each
 * compiled once at start. With error_mode propagate a failing record is refused (permanently),
 * the rest of the batch goes on.
 */
export class TransformProcessor implements Component, Consumer {
  private readonly groups: CompiledGroup[];

  constructor(private readonly s: CreateSettings<TransformConfig>, private readonly next: Consumer) {
    this.groups = groupsOf(s.config).map(({ group }) => {
      const ctx = contextOf(group);
      return {
        conditions: (group.conditions ?? []).map((text) => ({ text, test: compileCondition(text, ctx) })),
        statements: group.statements.map((text) => ({ text, run: compileStatement(text, ctx) })),
        errorMode: group.error_mode ?? s.config.error_mode,
      };
    });
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  private failed(mode: ErrorMode, what: string, err: unknown): void {
    if (!(err instanceof OttlRuntimeError) || mode === 'propagate') throw new StatementFailure(`${what} failed: ${(err as Error).message}`);
    if (mode === 'ignore') this.s.logger.warn({ statement: what, err: (err as Error).message }, 'transform: statement failed on a record; skipped (error_mode: ignore)');
  }

  private apply(g: CompiledGroup, c: ReturnType<typeof evalCtx>): void {
    if (g.conditions.length) {
      let any = false;
      for (const cond of g.conditions) {
        try {
          if (cond.test(c)) {
            any = true;
            break;
          }
        } catch (err) {
          this.failed(g.errorMode, `condition ${JSON.stringify(cond.text)}`, err);
        }
      }
      if (!any) return;
    }
    for (const st of g.statements) {
      try {
        st.run(c);
      } catch (err) {
        this.failed(g.errorMode, `statement ${JSON.stringify(st.text)}`, err);
      }
    }
  }

  async consume(batch: RecordBatch, ctx: Context): Promise<void> {
    const out: RecordBatch = [];
    const outIndex: number[] = [];
    const refused: ItemFailure[] = [];
    batch.forEach((r, i) => {
      const c = evalCtx(r);
      try {
        for (const g of this.groups) this.apply(g, c);
        out.push(r);
        outIndex.push(i);
      } catch (err) {
        if (!(err instanceof StatementFailure)) throw err;
        refused.push({ index: i, reason: err.message, retryable: false });
      }
    });
    if (refused.length) {
      this.s.metrics.counter('transform_refused', 'Records refused because a statement failed (error_mode: propagate).').inc({}, refused.length);
      this.s.logger.warn({ records: refused.length, reason: refused[0]!.reason }, 'transform: record(s) refused (error_mode: propagate)');
    }
    if (out.length) {
      try {
        await this.next.consume(out, ctx);
      } catch (err) {
        if (!refused.length || !(err instanceof PartialFailureError)) throw err;
        for (const f of err.failures) refused.push({ ...f, index: outIndex[f.index]! });
      }
    }
    if (refused.length) throw new PartialFailureError(refused.sort((a, b) => a.index - b.index));
  }
}

const errorMode = <Def extends ErrorMode | undefined = undefined>(def?: Def) =>
  oneOf(ERROR_MODES, def, 'What a failing statement does: propagate (the record is refused, permanently), ignore (logged, the next statement runs), silent (the same, not logged).');

const statementGroup = obj({
  context: oneOf(['log', 'resource', 'scope'], undefined, 'The OTTL context of the statements (default log).'),
  statements: strings(undefined, 'OTTL statements.'),
  conditions: strings(undefined, 'OTTL conditions; the statements run when any is true.'),
  error_mode: errorMode(),
}, { required: ['statements'] });

export type StatementGroup = Config<typeof statementGroup>;

const schema = obj({
  error_mode: errorMode('propagate'),
  // OTel's two forms: a flat list of statements, or groups { context, statements, conditions }.
  log_statements: withDefault(raw<(string | StatementGroup)[]>({
    type: 'array',
    description: 'OTTL statements, in order: a flat list of strings, or groups with context (log | resource), statements, conditions and error_mode.',
    // A string or a group: object keywords apply only to objects, so one schema gives one clear error.
    items: { ...statementGroup, type: ['string', 'object'] },
  }), []),
});

export type TransformConfig = Config<typeof schema>;

export const factory: ProcessorFactory<TransformConfig> = {
  kind: 'processor',
  type: 'transform',
  stability: 'alpha',
  mutatesData: true,
  description: 'OTel transform processor: OTTL statements (set, delete_key, merge_maps, …) over body, attributes and resource attributes.',
  schema,
  validate: (c) => {
    const problems: ConfigProblem[] = [];
    for (const { group, path, flat } of groupsOf(c)) {
      if (group.context === 'scope') {
        problems.push({ path: [...path, 'context'], message: 'context "scope" is not supported: rrpipe records carry no instrumentation scope (use log or resource)' });
        continue;
      }
      const ctx = contextOf(group);
      group.statements.forEach((text, j) => {
        try {
          compileStatement(text, ctx);
        } catch (err) {
          problems.push(ottlProblem(err, text, flat ? path : [...path, 'statements', j]));
        }
      });
      (group.conditions ?? []).forEach((text, j) => {
        try {
          compileCondition(text, ctx);
        } catch (err) {
          problems.push(ottlProblem(err, text, [...path, 'conditions', j]));
        }
      });
    }
    return problems;
  },
  create: (s, next) => new TransformProcessor(s, next),
};
