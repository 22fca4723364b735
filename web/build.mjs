// Builds the traffic explorer page (src/extensions/query_api/ui serves it at /ui) into web/dist:
// one JS bundle (preact + uPlot), one CSS file and index.html. Run by `npm run build`; the output is
// shipped in the npm package, so the page needs no network beyond rrpipe.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: join(out, 'app.js'),
  legalComments: 'inline',
  banner: { js: '/*! rrpipe traffic explorer. Bundles preact (MIT License, Copyright (c) 2015-present Jason Miller) and uPlot (MIT License, Copyright (c) 2022 Leon Sorokin). */' },
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
