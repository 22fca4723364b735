import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { loadConfig } from '../../src/config/load.js';
import { startS3, tmpDir } from '../support/index.js';
import { canon } from '../longterm/support.js';
import { FakeTimestream } from '../fakes/timestream/server.js';
import { cliRoundTrip, generatedRecords, patchedConfig, rehydrateInto, sampleRecords } from './support.js';

/*
 * The shipped configs/aws-timestream.yaml end to end: records archived to S3 (s3rver) by the
 * awss3 connector and indexed in Timestream (the wire fake, with endpoint discovery);
 * `rrpipe query --output raw` fetches each RRPair from S3 through its archive_uri.
 */

const SHIPPED = 'configs/aws-timestream.yaml';
const N = 20_000;

describe(SHIPPED, () => {
  it('loads, with the Timestream index behind the S3 archive, and query_api on it', async () => {
    const cfg = await loadConfig([SHIPPED], { registry: await builtinRegistry(), env: { RRPIPE_ARCHIVE_BUCKET: 'b', AWS_REGION: 'eu-west-1' } });
    expect(cfg.components.exporters.get('awstimestream')!.config).toMatchObject({ region: 'eu-west-1', database: 'rrpipe', table: 'rrpairs', create_table: true, memory_store_retention: 86_400_000, magnetic_store_retention: 14 * 86_400_000 });
    expect(cfg.components.extensions.get('query_api')!.config.store).toBe('awstimestream');
  });
});

describe(`${SHIPPED} against s3rver and the Timestream fake: ${N} generated RRPairs and the samples`, () => {
  const t = tmpDir('rrpipe-tscli-');
  let s3: Awaited<ReturnType<typeof startS3>>;
  const ts = new FakeTimestream();
  const rrs = [...sampleRecords(), ...generatedRecords(N)].map((r) => r.rrpair);

  beforeAll(async () => {
    s3 = await startS3(['archive']);
    await ts.start();
    writeFileSync(join(t.dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    await ts.stop();
    await s3?.stop();
    t.cleanup();
  });

  it('run, then query --output raw through archive_uri and snapshot --from the store: all equal', async () => {
    const env = { AWS_REGION: 'us-east-1', RRPIPE_ARCHIVE_BUCKET: 'archive', RRPIPE_HOT_RETENTION: '3650d' };
    const cfg = patchedConfig(SHIPPED, t.dir, 'run', join(t.dir, 'in.jsonl'), (doc) => {
      doc.setIn(['connectors', 'awss3', 's3uploader', 'endpoint'], s3.endpoint);
      doc.setIn(['connectors', 'awss3', 's3uploader', 's3_force_path_style'], true);
      doc.setIn(['exporters', 'awstimestream', 'endpoint'], ts.endpoint);
    });
    await cliRoundTrip(cfg, 'awstimestream', env, t.dir, rrs.map(canon).sort(), 's3://archive/rrpairs/dt=');
    expect(ts.ops('discovery')).toContain('DescribeEndpoints');
    expect(ts.records('rrpipe', 'rrpairs')).toHaveLength(rrs.length);
  }, 1_800_000);

  it('rehydrate from s3:// into a second table: every record there once, its RRPair back through archive_uri', async () => {
    // The config names no awss3 component: the archive's endpoint for query --output raw comes from the environment.
    await rehydrateInto(t.dir, 's3://archive/rrpairs', `s3: { endpoint: '${s3.endpoint}', s3_force_path_style: true, region: us-east-1 }`, 'awstimestream',
      [`endpoint: ${ts.endpoint}`, 'table: rehydrated', 'create_table: true', 'magnetic_store_retention: 3650d'], { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint }, rrs.map(canon).sort());
    expect(ts.records('rrpipe', 'rehydrated')).toHaveLength(rrs.length);
  }, 1_800_000);
});
