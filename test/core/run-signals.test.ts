import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, readDeadLetters, RrpipeProcess, tmp } from '../support/index.js';

// `rrpipe run --once`: a file receiver feeding an otlphttp exporter whose endpoint nobody listens
// on, so every record waits in the exporter's retries until the drain's deadline dead-letters it.
// One SIGTERM must drain (dead-letter what was accepted, as the exporter's dead_letter says) and
// exit 0, also when the receivers finish because of that drain or when --once is already draining;
// only a second signal exits at once without draining.

const N = 20;

async function setup(opts: { follow: boolean; grace: string }): Promise<{ dir: string; args: string[] }> {
  const dir = tmp('rrpipe-run-signal-');
  mkdirSync(join(dir, 'in'));
  const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ msgType: 'rrpair', uuid: `id-${i}`, ts: '2025-03-18T00:00:00Z', l7protocol: 'http', direction: 'IN', http: { req: { method: 'GET', uri: `/i/${i}` }, res: { statusCode: 200 } } }));
  writeFileSync(join(dir, 'in/a.jsonl'), lines.join('\n') + '\n');
  const dead = await freePort();
  writeFileSync(join(dir, 'once.yaml'), `
receivers:
  file: { include: ["${dir}/in/*.jsonl"], follow: ${opts.follow} }
exporters:
  otlphttp: { endpoint: "http://127.0.0.1:${dead}" }
service:
  data_dir: ${dir}/state
  grace_period: ${opts.grace}
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    logs: { receivers: [file], exporters: [otlphttp] }
`);
  return { dir, args: ['run', '-c', join(dir, 'once.yaml'), '--once'] };
}

const deadLettered = (dir: string) => readDeadLetters<{ reason: string; rrpair: { uuid: string } }>(join(dir, 'state'));
const allIds = Array.from({ length: N }, (_, i) => `id-${i}`).sort();

describe('rrpipe run --once and signals', () => {
  it('one SIGTERM while the (following) receivers still run drains and exits 0', async () => {
    const { dir, args } = await setup({ follow: true, grace: '2s' });
    const p = new RrpipeProcess(args);
    await p.waitLog('export failed, will retry'); // the records are in the exporter
    p.signal('SIGTERM');
    expect(await p.exited, p.stderrText).toBe(0);
    expect(p.stderrText).not.toMatch(/without draining/);
    expect(p.logs.some((l) => l.msg === 'stopped')).toBe(true);
    const dl = deadLettered(dir);
    expect(dl.map((d) => d.rrpair.uuid).sort()).toEqual(allIds);
    expect(new Set(dl.map((d) => d.reason))).toEqual(new Set(['shutdown deadline reached before delivery']));
  });

  it('one SIGTERM while --once is already draining (the file was read) keeps draining and exits 0', async () => {
    const { dir, args } = await setup({ follow: false, grace: '3s' });
    const p = new RrpipeProcess(args);
    await p.waitLog('shutting down: draining pipelines'); // started by the receivers being done
    p.signal('SIGTERM');
    expect(await p.exited, p.stderrText).toBe(0);
    expect(p.stderrText).not.toMatch(/without draining/);
    expect(deadLettered(dir).map((d) => d.rrpair.uuid).sort()).toEqual(allIds);
  });

  it('a second SIGTERM exits 1 at once, without draining', async () => {
    const { dir, args } = await setup({ follow: true, grace: '60s' });
    const p = new RrpipeProcess(args);
    await p.waitLog('export failed, will retry');
    p.signal('SIGTERM');
    await p.waitLog('shutting down: draining pipelines');
    p.signal('SIGTERM');
    expect(await p.exited).toBe(1);
    expect(p.stderrText).toMatch(/rrpipe: second SIGTERM, exiting without draining/);
    expect(p.logs.some((l) => l.msg === 'stopped')).toBe(false);
    expect(existsSync(join(dir, 'state/dead_letter')) ? deadLettered(dir) : []).toEqual([]);
  });
});
