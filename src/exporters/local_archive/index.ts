import { isAbsolute, resolve } from 'node:path';
import { bool, exporterHelperProperties, int, obj, oneOf, path, str, type Config } from '../../config/fragments.js';
import { archiveFactories } from '../internal/archive/factories.js';
import { COMPRESSIONS } from '../../layouts/format.js';
import { LAYOUTS, layoutDefaults } from '../../layouts/layout.js';
import { LocalDirStore } from '../../layouts/local.js';

const schema = obj(
  {
    directory: path(undefined, 'Root directory of the archive.', { minLength: 1 }),
    prefix: str('', 'Key prefix under the directory.'),
    layout: oneOf(LAYOUTS, 'native', 'Object layout (the same layouts as the cloud archives).'),
    format: oneOf(['raw_jsonl', 'otlp_json'], undefined, "Object format; default: the layout's."),
    compression: oneOf(COMPRESSIONS, undefined, "none, gzip or zstd; default: the layout's."),
    write_manifest: bool(true, 'Write <prefix>/_rrpipe/layout.json once.'),
    parallel: int(4, 'Objects written at once per batch.', { minimum: 1 }),
    ...exporterHelperProperties(),
  },
  { required: ['directory'] },
);

export type LocalArchiveConfig = Config<typeof schema>;

/**
 * The long-term archive on a local disk (or a mounted volume), in the same layouts as the cloud
 * archives, so `rrpipe rehydrate`, `snapshot` and `get file://…` read it the same way.
 */
export const factories = archiveFactories<LocalArchiveConfig>({
  type: 'local_archive',
  stability: { exporter: 'alpha', connector: 'alpha' },
  description: 'Archives records to a local directory in the native, OTel or Fluent Bit layout (objects written whole, then renamed).',
  schema,
  build: (s) => {
    const c = s.config;
    const d = layoutDefaults(c.layout);
    const dir = isAbsolute(c.directory) ? c.directory : resolve(process.cwd(), c.directory);
    return {
      openStore: () => new LocalDirStore(dir),
      options: {
        spec: { layout: c.layout, prefix: c.prefix, format: c.format ?? d.format, compression: c.compression ?? d.compression },
        writeManifest: c.write_manifest,
        parallel: c.parallel,
      },
    };
  },
});
