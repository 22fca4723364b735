// `npm run bench`: runs every bench/*.mjs case in turn (after the build).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const f of readdirSync(here).filter((f) => f.endsWith('.mjs')).sort()) {
  console.log(`\n== bench/${f}`);
  await import(pathToFileURL(join(here, f)).href);
}
