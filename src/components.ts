import type { Factory } from './core/component.js';
import { Registry } from './core/registry.js';

/**
 * The built-in components. Each folder's index.ts exports `factory` (or `factories`); they are
 * registered through the same Registry.registerPlugin call that loads third-party plugins.
 */
const builtins: Promise<{ factory?: Factory; factories?: Factory[] }>[] = [
  // import('./receivers/file/index.js'),
  import('./processors/batch/index.js'),
  // import('./exporters/file/index.js'),
  import('./exporters/debug/index.js'),
  import('./extensions/health_check/index.js'),
  import('./receivers/nettap/index.js'),
];

export async function builtinRegistry(): Promise<Registry> {
  const registry = new Registry();
  for (const mod of await Promise.all(builtins)) {
    registry.registerPlugin({ factories: mod.factories ?? (mod.factory ? [mod.factory] : []) }, 'built-in');
  }
  return registry;
}
