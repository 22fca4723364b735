import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, Host } from '../../src/core/component.js';

/** The Host a component gets from the service, for starting one component alone in a test. */
export function testHost(dataDir = tmpdir(), opts: { exporters?: Map<string, Consumer>; oneShot?: boolean } = {}): Host {
  return {
    getExtension: () => undefined,
    getExporter: (id) => opts.exporters?.get(id),
    reportStatus: () => {},
    status: () => ({ running: true, pipelines: {}, components: {} }),
    dataDir,
    oneShot: opts.oneShot ?? false,
  };
}

/** Every dead-letter line a component wrote under `<dataDir>/dead_letter` (none when the folder is absent). */
export function readDeadLetters<T = Record<string, unknown>>(dataDir: string): T[] {
  const dl = join(dataDir, 'dead_letter');
  let files: string[] = [];
  try {
    files = readdirSync(dl);
  } catch {
    return [];
  }
  return files.flatMap((f) => readFileSync(join(dl, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T));
}
