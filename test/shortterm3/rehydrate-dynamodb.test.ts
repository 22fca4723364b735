import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDynalite, startS3, tmpDir, type Dynalite } from '../support/index.js';
import { canon } from '../longterm/support.js';
import { generatedRecords, sampleRecords } from '../shortterm2/support.js';

/*
 * Archived RRPairs brought back into a short-term store: rrpipe archives to S3 (s3rver, native
 * layout), then the rehydrate receiver reads that archive back into awsdynamodb (dynalite), and
 * `rrpipe query --store awsdynamodb --output raw` returns exactly what was archived.
 */
describe('rehydrate an S3 archive (s3rver) into awsdynamodb (dynalite), read back with rrpipe query --store', () => {
  const t = tmpDir('rrpipe-rehydrate-ddb-');
  let s3: Awaited<ReturnType<typeof startS3>>;
  let db: Dynalite;
  const rrs = [...sampleRecords(), ...generatedRecords(2_000)].map((r) => r.rrpair);
  const want = rrs.map(canon).sort();
  const env = { AWS_REGION: 'us-east-1' };

  beforeAll(async () => {
    s3 = await startS3(['archive']);
    db = await startDynalite();
    writeFileSync(join(t.dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    await db?.stop();
    await s3?.stop();
    t.cleanup();
  });

  const service = (name: string, receiver: string, exporter: string) =>
    `service:\n  data_dir: ${join(t.dir, name)}\n  grace_period: 10m\n  telemetry: { metrics: { level: none } }\n  pipelines:\n    logs: { receivers: [${receiver}], exporters: [${exporter}] }\n`;
  const store = `  awsdynamodb:\n    endpoint: ${'${env:DDB}'}\n    region: us-east-1\n    table_name: rehydrated\n    create_table: true\n`;

  it('archive, rehydrate into the store, query --output raw: the same RRPairs, once each', async () => {
    const archive = join(t.dir, 'archive.yaml');
    writeFileSync(archive, `receivers:\n  file: { include: ['${join(t.dir, 'in.jsonl')}'], start_at: beginning, follow: false }\nexporters:\n  awss3:\n    s3uploader: { region: us-east-1, s3_bucket: archive, s3_prefix: rr, endpoint: '${s3.endpoint}', s3_force_path_style: true }\n    layout: native\n${service('archive', 'file', 'awss3')}`);
    const a = await runCli(['run', '--once', '-c', archive], env);
    expect(a.code, a.stderr.slice(-2000)).toBe(0);

    const back = join(t.dir, 'back.yaml');
    writeFileSync(back, `receivers:\n  rehydrate:\n    from: s3://archive/rr\n    s3: { region: us-east-1, endpoint: '${s3.endpoint}', s3_force_path_style: true }\n    start: '2025-03-18T00:00:00Z'\n    end: '2025-06-03T00:00:00Z'\nexporters:\n${store}${service('back', 'rehydrate', 'awsdynamodb')}`);
    const r = await runCli(['run', '--once', '-c', back], { ...env, DDB: db.endpoint });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).not.toMatch(/dead.letter/i);

    // Rehydrating the same window again duplicates nothing (the items are keyed by RRPair id).
    const again = await runCli(['run', '--once', '-c', back], { ...env, DDB: db.endpoint });
    expect(again.code, again.stderr.slice(-2000)).toBe(0);

    const out = join(t.dir, 'raw.jsonl');
    const q = await runCli(['query', '-c', back, '--store', 'awsdynamodb', '--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z', '--limit', '0', '--output', 'raw', '--out', out], { ...env, DDB: db.endpoint });
    expect(q.code, q.stderr.slice(-2000)).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l))).sort()).toEqual(want);
  }, 600_000);
});
