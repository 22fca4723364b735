import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * A (CommonJS) SDK loaded the first time a component uses it, not when the component's module
 * is imported: every built-in factory is registered at start, and loading the cloud SDKs then
 * cost seconds of start time and a hundred MB of RSS for configs that use none of them.
 */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireHere(id) as T);
}
