// CPU seconds per 100k records and peak RSS of building the bulk document lines of the opensearch /
// elasticsearch exporters, per mapping mode (ss4o: the RRPair as a Go-style JSON string in `body`;
// otel: the RRPair as the `Body` object; rrpipe: the flat index document). No cluster runs here
// (the exporters are tested against wire fakes), so this measures rrpipe's own side of a bulk
// request. Run after a build: `npm run build && node bench/searchdocs.mjs [records] [mode]`; with no
// mode each mode runs in its own process, so the peak RSS is that mode's.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sampleLines } from './lib.mjs';
import { newRecord } from '../dist/core/record.js';
import { documentOf } from '../dist/exporters/internal/searchengine/bulk.js';

const N = Number(process.argv[2] ?? 100000);
const MODE = process.argv[3];

if (!MODE) {
  console.log(`searchdocs bench: ${N} records cycled from the in-repo sample RRPairs, one process per mode`);
  for (const m of ['ss4o', 'otel', 'rrpipe']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), String(N), m], { encoding: 'utf8' });
    process.stdout.write(r.stdout + r.stderr);
  }
} else {
  const parsed = sampleLines().map((l) => JSON.parse(l));
  const resolved = { dataStream: { dataset: 'default', namespace: 'namespace' } };
  const build = (i) => {
    const rr = parsed[i % parsed.length];
    const r = newRecord(rr, { attributes: { service: 'svc', namespace: 'ns' }, resource: { cluster: 'c1' }, timeUnixNano: String(1_750_000_000_000_000_000n + BigInt(i)) });
    const d = documentOf(r, MODE, { storeRRPair: true, dataStream: false, resolved });
    return JSON.stringify(d.doc).length;
  };
  for (let i = 0; i < 2000; i++) build(i);
  let bytes = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) bytes += build(i);
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`${MODE.padEnd(8)} ${((cpu * 100000) / N).toFixed(2).padStart(6)} CPU s/100k  peak RSS ${rss.toFixed(0)} MB  ${(bytes / N / 1024).toFixed(1)} KiB/document  (${N} records)`);
}
