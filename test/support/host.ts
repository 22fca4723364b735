import { tmpdir } from 'node:os';
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
