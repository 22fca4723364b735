import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/service.js';
import { silentLogger } from '../../src/core/logger.js';
import { sinks, testRegistry } from '../support/capture.js';
import { tmp, waitFor } from '../support/index.js';

const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
  sinks.clear();
});

function lines(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(JSON.stringify({ msgType: 'rrpair', uuid: `id-${i}`, ts: new Date(Date.UTC(2025, 2, 18) + i).toISOString(), l7protocol: 'http', direction: 'IN' }));
  return out.join('\n') + '\n';
}

describe('file receiver behind a batch processor', () => {
  it('keeps reading while batches wait to be acknowledged, so the batch fills by size instead of waiting out its timeout', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'in.jsonl'), lines(8000));
    const s = new Service({
      files: ['t.yaml'],
      texts: {
        't.yaml': `
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false, batch_size: 1000 }
processors:
  batch: { send_batch_size: 4000, timeout: 1h }
exporters:
  capture: { label: out }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [batch], exporters: [capture] }
`,
      },
      registry: await testRegistry(),
      logger: silentLogger(),
    });
    await s.start();
    running.push(s);
    // With one batch in flight at a time, nothing would arrive before the hour-long timeout.
    await waitFor(() => (sinks.get('out')?.length ?? 0) >= 8000, { what: 'two full batches of 4,000' });
    const got = sinks.get('out')!.map((r) => r.rrpair.uuid);
    expect(got.slice(0, 8000)).toEqual(Array.from({ length: 8000 }, (_, i) => `id-${i}`));
    // Offsets move over what was accepted, in file order, up to the end of the file.
    const line = () => {
      try {
        const cp = JSON.parse(readFileSync(join(dir, 'state/file_receiver/file.json'), 'utf8')) as { files: Record<string, { line: number }> };
        return Object.values(cp.files).map((f) => f.line).join(',');
      } catch {
        return '';
      }
    };
    await waitFor(() => line() === '8000', { what: 'checkpoint at line 8000' });
    expect(sinks.get('out')).toHaveLength(8000);
  });
});
