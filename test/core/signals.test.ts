import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RrpipeProcess, tmp, waitFor } from '../support/index.js';

/** Small RRPairs numbered 0..n-1, so 100,000 of them stay a few MB. */
function numbered(n: number, from = 0): string {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    out.push(JSON.stringify({ msgType: 'rrpair', uuid: `id-${i}`, ts: new Date(Date.UTC(2025, 2, 18) + i).toISOString(), l7protocol: 'http', direction: 'IN', http: { req: { method: 'GET', uri: `/items/${i}` }, res: { statusCode: 200 } } }));
  }
  return out.join('\n') + '\n';
}

function outbox(dir: string): { ids: string[]; partial: string[] } {
  const ids: string[] = [];
  const partial: string[] = [];
  if (!existsSync(dir)) return { ids, partial };
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.partial')) partial.push(f);
    else for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l) ids.push(JSON.parse(l).uuid);
  }
  return { ids, partial };
}

function config(dir: string, outName = 'out'): string {
  return `
receivers:
  file:
    include: ["${dir}/in/*.jsonl"]
    follow: \${env:FOLLOW:-true}
    batch_size: 200
    poll_interval: 50ms
processors:
  batch: { send_batch_size: 500, timeout: 20ms }
exporters:
  file:
    path: "${dir}/${outName}/rrpairs.jsonl"
    layout: rrpipe
    flush_interval: 0
service:
  data_dir: ${dir}/state
  grace_period: 20s
  telemetry:
    logs: { level: info }
    metrics: { address: "127.0.0.1:0" }
  pipelines:
    logs: { receivers: [file], processors: [batch], exporters: [file] }
`;
}

async function acceptedSoFar(p: RrpipeProcess, dir: string): Promise<number> {
  const cp = join(dir, 'state/file_receiver/file.json');
  if (!existsSync(cp)) return 0;
  try {
    const files = Object.values(JSON.parse(readFileSync(cp, 'utf8')).files) as { line: number }[];
    return files.reduce((a, f) => a + f.line, 0);
  } catch {
    return 0;
  }
}

describe('signals', () => {
  it('SIGTERM during a stream of 100,000 records loses none: what was acknowledged is written, the rest follows after restart', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in/stream.jsonl'), numbered(100_000));
    writeFileSync(join(dir, 'c.yaml'), config(dir));
    const p = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
    await p.waitLog('rrpipe started');
    await waitFor(() => acceptedSoFar(p, dir).then((n) => n > 1000), { what: 'first records accepted' });
    p.signal('SIGTERM');
    expect(await p.exited).toBe(0);
    const acknowledged = await acceptedSoFar(p, dir);
    const first = outbox(join(dir, 'out'));
    expect(first.partial).toEqual([]);
    expect(acknowledged).toBeGreaterThan(0);
    // Every acknowledged record was written, exactly once.
    expect(new Set(first.ids).size).toBe(first.ids.length);
    expect(first.ids.length).toBeGreaterThanOrEqual(acknowledged);
    for (let i = 0; i < acknowledged; i++) if (first.ids[i] !== `id-${i}`) throw new Error(`record ${i} missing or out of order`);

    // However far the first run got, the stream goes on while rrpipe is down: the restart resumes
    // from the checkpoint and delivers the rest of it, nothing twice.
    appendFileSync(join(dir, 'in/stream.jsonl'), numbered(1000, 100_000));
    const again = new RrpipeProcess(['run', '--once', '-c', join(dir, 'c.yaml')], { FOLLOW: 'false' });
    expect(await again.exited).toBe(0);
    const all = outbox(join(dir, 'out')).ids;
    expect(all).toHaveLength(101_000);
    expect(new Set(all).size).toBe(101_000);
  }, 120_000);

  it('SIGHUP with a valid config swaps pipelines without losing a record in flight', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in/a.jsonl'), numbered(30_000));
    writeFileSync(join(dir, 'c.yaml'), config(dir, 'out1'));
    const p = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
    await p.waitLog('rrpipe started');
    await waitFor(() => acceptedSoFar(p, dir).then((n) => n > 500), { what: 'first records' });
    writeFileSync(join(dir, 'c.yaml'), config(dir, 'out2'));
    p.signal('SIGHUP');
    await p.waitLog('reloaded');
    writeFileSync(join(dir, 'in/b.jsonl'), numbered(1000, 30_000));
    await waitFor(() => acceptedSoFar(p, dir).then((n) => n === 31_000), { what: 'all records accepted', timeoutMs: 60_000 });
    p.signal('SIGTERM');
    expect(await p.exited).toBe(0);
    const o1 = outbox(join(dir, 'out1')).ids;
    const o2 = outbox(join(dir, 'out2')).ids;
    expect(o1.length).toBeGreaterThan(0);
    expect(o2.length).toBeGreaterThan(0);
    expect(o2).toContain('id-30999');
    const all = [...o1, ...o2];
    expect(all).toHaveLength(31_000);
    expect(new Set(all).size).toBe(31_000);
  }, 120_000);

  it('SIGHUP with an invalid config keeps the running pipelines and logs why', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'c.yaml'), config(dir));
    const p = new RrpipeProcess(['run', '-c', join(dir, 'c.yaml')]);
    await p.waitLog('rrpipe started');
    writeFileSync(join(dir, 'c.yaml'), config(dir).replace('batch_size: 200', 'batch_size: many'));
    p.signal('SIGHUP');
    const refused = await p.waitLog(/reload refused/);
    expect((refused.errors as string[]).join('\n')).toMatch(/c\.yaml:6:17: receivers\.file: "batch_size" must be integer/);
    writeFileSync(join(dir, 'in/late.jsonl'), numbered(10));
    await waitFor(() => outbox(join(dir, 'out')).ids.length === 10 || acceptedSoFar(p, dir).then((n) => n === 10), { what: 'records still flow' });
    p.signal('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(outbox(join(dir, 'out')).ids).toHaveLength(10);
  }, 120_000);
});
