import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the plain closing line CI reads ("vitest: N passed, N failed, N skipped") and, when
 * RRPIPE_FAIL_ON_SKIP=1 (set by .ci/run), fails the run if any test was skipped: in CI every
 * backend must be present.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const skippedNames: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else {
          skipped++;
          skippedNames.push(`${m.moduleId.replace(process.cwd() + '/', '')} > ${t.fullName}`);
        }
      }
      // A module that failed outside its tests (a hook, an import) counts as a failure even if its tests were skipped.
      if (m.state() === 'failed' && ![...m.children.allTests()].some((t) => t.result().state === 'failed')) failed++;
    }
    if (skipped && process.env.RRPIPE_FAIL_ON_SKIP === '1') {
      console.log(`\nSkipped tests are failures in CI (a backend is missing):\n  ${skippedNames.join('\n  ')}`);
      process.exitCode = 1;
    }
    console.log(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  }
}
