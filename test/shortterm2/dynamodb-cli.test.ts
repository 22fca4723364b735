import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { DynamoProxy, runCli, startDynalite, startS3, tmpDir, type Dynalite } from '../support/index.js';
import { canon } from '../longterm/support.js';
import { generatedRecords, sampleRecords } from './support.js';

/*
 * The shipped configs/aws-dynamodb.yaml end to end: records archived to S3 (s3rver) by the awss3
 * connector and indexed in DynamoDB (dynalite) without the RRPair; `rrpipe query --output raw`
 * fetches each RRPair from S3 through its archive_uri; `rrpipe snapshot --from awsdynamodb` gives
 * the same.
 */

const SHIPPED = 'configs/aws-dynamodb.yaml';
const N = 20_000;
const WINDOW = ['--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z'];

describe(`${SHIPPED}`, () => {
  it('loads, with the DynamoDB store index-only behind the S3 archive, and query_api on it', async () => {
    const cfg = await loadConfig([SHIPPED], { registry: await builtinRegistry(), env: { RRPIPE_ARCHIVE_BUCKET: 'b', AWS_REGION: 'eu-west-1' } });
    const d = cfg.components.exporters.get('awsdynamodb')!;
    expect(d.config).toMatchObject({ region: 'eu-west-1', table_name: 'rrpipe-rrpairs', create_table: true, store_rrpair: false, ttl: 14 * 86_400_000, ttl_attribute: 'expires_at', configure_ttl: true });
    expect(cfg.components.connectors.get('awss3')!.config).toMatchObject({ s3uploader: { s3_bucket: 'b', region: 'eu-west-1' } });
    expect(cfg.components.extensions.get('query_api')!.config.store).toBe('awsdynamodb');
  });
});

describe(`${SHIPPED} against s3rver and dynalite: ${N} generated RRPairs and the samples`, () => {
  const t = tmpDir('rrpipe-ddbcli-');
  let s3: Awaited<ReturnType<typeof startS3>>;
  let db: Dynalite;
  let proxy: DynamoProxy;
  const rrs = [...sampleRecords(), ...generatedRecords(N)].map((r) => r.rrpair);
  const want = rrs.map(canon).sort();

  beforeAll(async () => {
    s3 = await startS3(['archive']);
    db = await startDynalite();
    proxy = new DynamoProxy(db.port);
    await proxy.start();
    writeFileSync(join(t.dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await db?.stop();
    await s3?.stop();
    t.cleanup();
  });

  /** The shipped config, with a file source instead of OTLP and the emulators' endpoints. */
  function patched(name: string, table: string, edit: (doc: ReturnType<typeof parseDocument>) => void = () => {}): string {
    const doc = parseDocument(readFileSync(SHIPPED, 'utf8'));
    doc.set('receivers', { file: { include: [join(t.dir, 'in.jsonl')], start_at: 'beginning', follow: false } });
    doc.setIn(['connectors', 'awss3', 's3uploader', 'endpoint'], s3.endpoint);
    doc.setIn(['connectors', 'awss3', 's3uploader', 's3_force_path_style'], true);
    doc.setIn(['exporters', 'awsdynamodb', 'endpoint'], proxy.endpoint);
    doc.setIn(['exporters', 'awsdynamodb', 'table_name'], table);
    doc.setIn(['processors', 'batch'], { send_batch_size: 2000 });
    doc.deleteIn(['extensions']);
    doc.setIn(['service', 'extensions'], []);
    doc.setIn(['service', 'telemetry'], { metrics: { level: 'none' } });
    doc.setIn(['service', 'data_dir'], join(t.dir, name, 'state'));
    // --once drains every queue before exiting; dynalite on a shared machine is slow, so no deadline cuts that short.
    doc.setIn(['service', 'grace_period'], '30m');
    doc.setIn(['service', 'pipelines', 'logs/archive', 'receivers'], ['file']);
    edit(doc);
    mkdirSync(join(t.dir, name), { recursive: true });
    const file = join(t.dir, name, 'rrpipe.yaml');
    writeFileSync(file, doc.toString());
    return file;
  }

  function lines(file: string): string[] {
    return readFileSync(file, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l)));
  }

  it('run, query --output raw through archive_uri, snapshot --from the store: all equal', async () => {
    const env = { AWS_REGION: 'us-east-1', RRPIPE_ARCHIVE_BUCKET: 'archive' };
    const cfg = patched('run', 'rrpairs-main');
    const run = await runCli(['run', '--once', '-c', cfg], env);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.stderr).not.toMatch(/dead.letter/i);
    expect(proxy.calls.find((c) => c.target === 'UpdateTimeToLive')?.body).toMatchObject({ TimeToLiveSpecification: { Enabled: true, AttributeName: 'expires_at' } });

    const docs = await runCli(['query', '-c', cfg, '--store', 'awsdynamodb', ...WINDOW, '--limit', '0', '--output', 'jsonl', '--out', join(t.dir, 'docs.jsonl')], env);
    expect(docs.code, docs.stderr.slice(-2000)).toBe(0);
    const uris = readFileSync(join(t.dir, 'docs.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { archive_uri?: string }).archive_uri ?? '');
    expect(uris).toHaveLength(rrs.length);
    expect(uris.every((u) => u.startsWith('s3://archive/rrpairs/dt='))).toBe(true);

    const raw = await runCli(['query', '-c', cfg, '--store', 'awsdynamodb', ...WINDOW, '--limit', '0', '--output', 'raw', '--out', join(t.dir, 'raw.jsonl')], env);
    expect(raw.code, raw.stderr.slice(-2000)).toBe(0);
    expect(lines(join(t.dir, 'raw.jsonl')).sort()).toEqual(want);

    const snap = await runCli(['snapshot', '-c', cfg, '--from', 'awsdynamodb', ...WINDOW, '--out', join(t.dir, 'snap.jsonl')], env);
    expect(snap.code, snap.stderr.slice(-2000)).toBe(0);
    const snapLines = lines(join(t.dir, 'snap.jsonl'));
    expect([...snapLines].sort()).toEqual(want);
  }, 1_800_000);
});
