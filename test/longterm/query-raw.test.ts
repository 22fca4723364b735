import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGcs, runCli, startAzurite, startS3, tmpDir } from '../support/index.js';
import { canon, corpus } from './support.js';

/*
 * `rrpipe query --output raw` on a store that keeps only the index (store_rrpair: false): each
 * RRPair is fetched through its archive_uri from the archive the connector wrote, with the
 * connection (endpoint, credentials) of that connector in the same config.
 */

const t = tmpDir('rrpipe-qraw-');
let s3: Awaited<ReturnType<typeof startS3>>;
let az: Awaited<ReturnType<typeof startAzurite>>;
const gcs = new FakeGcs();
let gcsEndpoint = '';

beforeAll(async () => {
  s3 = await startS3(['archive']);
  az = await startAzurite();
  gcsEndpoint = await gcs.start();
  await new Storage({ apiEndpoint: gcsEndpoint, projectId: 'p' }).createBucket('archive');
  await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('logs').createIfNotExists();
}, 90_000);

afterAll(async () => {
  await s3?.stop();
  await az?.stop();
  await gcs.stop();
  t.cleanup();
});

function config(dir: string, connector: string, block: string): string {
  const file = join(dir, 'rrpipe.yaml');
  writeFileSync(file, `receivers:
  file:
    include: [${join(dir, 'in.jsonl')}]
    start_at: beginning
    follow: false
processors:
  batch: { send_batch_size: 200 }
connectors:
  ${connector}:
${block}
exporters:
  embedded:
    path: ${join(dir, 'hot.db')}
    store_rrpair: false
service:
  data_dir: ${join(dir, 'data')}
  telemetry: { metrics: { level: none } }
  pipelines:
    logs/archive: { receivers: [file], processors: [batch], exporters: [${connector}] }
    logs/index: { receivers: [${connector}], exporters: [embedded] }
`);
  return file;
}

describe('rrpipe query --output raw fetches the full RRPair through archive_uri', () => {
  const cases: { name: string; scheme: string; connector: string; block: () => string }[] = [
    { name: 's3 (s3rver)', scheme: 's3://archive/', connector: 'awss3', block: () => `    s3uploader: { s3_bucket: archive, s3_prefix: q, endpoint: '${s3.endpoint}', s3_force_path_style: true }` },
    { name: 'gs (GCS wire fake)', scheme: 'gs://archive/', connector: 'googlecloudstorage', block: () => `    bucket: { name: archive, file_prefix: q, endpoint: '${gcsEndpoint}' }` },
    { name: 'azblob (Azurite)', scheme: 'azblob://devstoreaccount1/logs/', connector: 'azure_blob', block: () => `    auth: { type: connection_string, connection_string: '${az.connectionString}' }\n    prefix: q` },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = join(t.dir, c.connector);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      const rrs = corpus(400);
      writeFileSync(join(dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const cfg = config(dir, c.connector, c.block());
      const run = await runCli(['run', '--once', '-c', cfg]);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      // The index keeps only the address: the RRPair must come from the archive.
      const docs = await runCli(['query', '-c', cfg, '--store', 'embedded', '--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z', '--limit', '0', '--output', 'jsonl']);
      const uris = docs.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { archive_uri?: string }).archive_uri);
      expect(uris).toHaveLength(rrs.length);
      for (const u of uris) expect(u?.startsWith(c.scheme), u).toBe(true);
      const out = join(dir, 'raw.jsonl');
      const q = await runCli(['query', '-c', cfg, '--store', 'embedded', '--start', '2000-01-01T00:00:00Z', '--end', '2100-01-01T00:00:00Z', '--limit', '0', '--output', 'raw', '--out', out]);
      expect(q.code, q.stderr.slice(-2000)).toBe(0);
      const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l)));
      expect(got.sort()).toEqual(rrs.map(canon).sort());
    }, 240_000);
  }
});
