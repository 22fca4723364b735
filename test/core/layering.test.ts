import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const coreDir = join(srcDir, 'core');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module a file names: static imports, re-exports, `import type`, `import()` and `import('…').T` types. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** Relative imports that resolve outside src/core/. Packages (pino, prom-client, node:*) are allowed. */
function leavingCore(file: string): string[] {
  return importsOf(file)
    .filter((spec) => spec.startsWith('.'))
    .filter((spec) => {
      const target = resolve(dirname(file), spec);
      return target !== coreDir && !target.startsWith(coreDir + sep);
    })
    .map((spec) => `${relative(srcDir, file)} imports ${spec}`);
}

describe('layering: src/core/ is the ground floor', () => {
  it('finds the core modules and their imports (the scan itself works)', () => {
    const files = tsFiles(coreDir);
    expect(files.map((f) => relative(coreDir, f))).toEqual(expect.arrayContaining(['component.ts', 'record.ts', 'errors.ts']));
    expect(importsOf(join(coreDir, 'record.ts'))).toContain('./rrpair.js');
    expect(importsOf(join(coreDir, 'query.ts'))).toContain('./component.js');
  });

  it('flags an import that leaves core', () => {
    const outside = join(srcDir, 'service', 'service.ts');
    expect(leavingCore(outside).some((l) => l.includes('../config/load.js'))).toBe(true);
  });

  it('no module under src/core/ imports from another folder of src/', () => {
    expect(tsFiles(coreDir).flatMap(leavingCore)).toEqual([]);
  });
});
