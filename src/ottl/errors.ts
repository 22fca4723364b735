/** A problem in OTTL text, found while parsing or compiling; `offset` is the character it is about. */
export class OttlError extends Error {
  override name = 'OttlError';
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** A statement or condition that failed on one record (a type it cannot work with, an index out of range). */
export class OttlRuntimeError extends Error {
  override name = 'OttlRuntimeError';
}

/** The OTel error_mode: how a processor treats a statement or condition that fails on a record. */
export type ErrorMode = 'propagate' | 'ignore' | 'silent';
export const ERROR_MODES: readonly ErrorMode[] = ['propagate', 'ignore', 'silent'];
