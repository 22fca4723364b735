// Runs every bench case (bench/*.mjs) one after the other; each prints one JSON line.
// `npm run bench` builds first. Arguments after `--` go to every case.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
let failed = 0;
for (const f of readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort()) {
  const r = spawnSync(process.execPath, [join(dir, f), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
