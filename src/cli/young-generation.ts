import { setFlagsFromString } from 'node:v8';

/**
 * Holds V8's young generation at its first size while `rrpipe run` starts. Loading the modules
 * and compiling the config's schemas allocate a burst that makes V8 double the semi-spaces twice
 * (to 2 × 8 MB on Node 20), and nothing shrinks them again while the daemon idles: about 11 MB of
 * idle RSS that load has not asked for yet (bench/otlp.mjs `startup`, issue 13). Released once the
 * service runs, so under load the young generation grows as V8 decides. `--semi-space-growth-factor`
 * is read at each growth, so changing it at run time takes effect; 2 is V8's default. A growth
 * factor the user set in NODE_OPTIONS or on the command line is left alone (a semi-space cap such
 * as the image's `--max-semi-space-size=4` still applies once released).
 */
const DEFAULT_GROWTH_FACTOR = 2;
let held = false;

function userSetsGrowthFactor(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((f) => /^--semi[-_]space[-_]growth[-_]factor\b/.test(f));
}

export function holdYoungGeneration(): void {
  if (held || userSetsGrowthFactor()) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

export function releaseYoungGeneration(): void {
  if (!held) return;
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  held = false;
}

/** Whether start-up is holding the young generation (for tests). */
export function youngGenerationHeld(): boolean {
  return held;
}
