import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { newRecord } from '../../src/core/record.js';
import { noopMetrics } from '../../src/core/telemetry.js';
import { archiveExporter } from '../../src/exporters/internal/archive/exporter.js';
import { LocalDirStore } from '../../src/layouts/local.js';
import { buildSnapshot } from '../../src/layouts/snapshot.js';
import { testHost, tmp } from '../support/index.js';
import { canon, corpus } from './support.js';

// Memory flat in the window size: past a byte bound (not only a record count) sorted runs go to
// disk, so a window of large records spills as one of small records does, and the merge of the
// runs gives the same ordered, de-duplicated output.
const pairs = corpus(1200);
const byUuid = new Map(pairs.map((p) => [p.uuid!, canon(p)]));
let dir: string;

beforeAll(async () => {
  dir = tmp('local');
  const exp = archiveExporter(
    { id: 'local', kind: 'exporter', config: { timeout: 30_000, sending_queue: { enabled: false, num_consumers: 1, queue_size: 1, sizer: 'requests', block_on_overflow: true }, retry_on_failure: { enabled: false, initial_interval: 1, max_interval: 1, max_elapsed_time: 1, multiplier: 1, randomization_factor: 0 } }, logger: silentLogger(), metrics: noopMetrics(), configDir: '.' },
    () => new LocalDirStore(dir),
    { spec: { layout: 'native', prefix: '', format: 'raw_jsonl', compression: 'gzip' }, writeManifest: true },
  );
  await exp.start(testHost(tmp('data'), { oneShot: true }));
  await exp.consume(pairs.map((p) => newRecord(structuredClone(p))), {});
  await exp.consume(pairs.slice(0, 300).map((p) => newRecord(structuredClone(p))), {});
  await exp.shutdown(AbortSignal.timeout(5000));
});

describe('snapshot spills by bytes', () => {
  it('spills sorted runs once the buffered JSON passes spillBytes, whatever the record count, and merges them in order without duplicates', async () => {
    const out = join(tmp('snap'), 'raw.jsonl');
    const bytes = pairs.reduce((a, p) => a + JSON.stringify(p).length, 0);
    const res = await buildSnapshot({ store: new LocalDirStore(dir), prefix: '', layout: 'auto', startMs: Date.parse('2025-03-17T00:00:00Z'), endMs: Date.parse('2025-03-20T00:00:00Z'), format: 'raw_jsonl', out, spillBytes: Math.ceil(bytes / 10) });
    expect(res.runs).toBeGreaterThanOrEqual(10);
    expect(res.duplicates).toBe(300);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(byUuid.size);
    for (const l of lines) expect(canon(l)).toBe(byUuid.get(l.uuid));
    const ts = lines.map((l) => Date.parse(l.ts));
    expect(ts.every((t, i) => i === 0 || ts[i - 1]! <= t)).toBe(true);
  });
});
