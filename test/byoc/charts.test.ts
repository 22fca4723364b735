/**
 * configs/byoc/<chart>.yaml: each Speedscale BYOC chart's collector config (default values) as rrpipe
 * runs it, end to end against the emulators, read back the way the chart's gather script reads
 * (speedscale/speedscale-byoc scripts/s3-gather.py, gcs-gather.py, azure-gather.py, es-gather.py): the same
 * listing or query, the same OTLP-JSON decoding (ported below, not rrpipe's own decoder), and the
 * RRPairs compared field by field with the samples.
 */
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BlobServiceClient } from '@azure/storage-blob';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { Service } from '../../src/service/service.js';
import { Storage } from '@google-cloud/storage';
import { FakeGcs, freePort, startAzurite, startS3, startSearchEngineFake, tmp } from '../support/index.js';
import { expectedRRPair, SAMPLES } from '../otlp/support.js';

const IDS = { cluster: 'east', service: 'billing', namespace: 'prod' };
const CONFIGS = join(import.meta.dirname, '../../configs/byoc');
/** OTel awss3's default key: s3_partition_format year=%Y/month=%m/day=%d/hour=%H/minute=%M, logs_<random>.json. */
const OTEL_KEY = /^byoc\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/minute=\d\d\/logs_[A-Za-z][A-Za-z0-9]{8}\.json$/;

/** Start the chart config with its ports moved to free loopback ports; returns the gRPC port and the service. */
async function startChart(name: string, env: Record<string, string>): Promise<{ grpc: number; service: Service }> {
  const [g, h, hc, m] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const text = readFileSync(join(CONFIGS, `${name}.yaml`), 'utf8')
    .replace('0.0.0.0:4317', `127.0.0.1:${g}`)
    .replace('0.0.0.0:4318', `127.0.0.1:${h}`)
    .replace('0.0.0.0:13133', `127.0.0.1:${hc}`);
  const data = tmp('rrpipe-chart-');
  const service = new Service({
    files: [`${name}.yaml`],
    texts: { [`${name}.yaml`]: `${text}\n  data_dir: ${data}/state\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n` },
    registry: await builtinRegistry(),
    env,
    logger: silentLogger(),
  });
  await service.start();
  return { grpc: g, service };
}

/** The forwarder's side: one LogRecord per RRPair over OTLP/gRPC, service and namespace as log attributes. */
async function send(port: number, rrs: RRPair[], ids = IDS): Promise<void> {
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ cluster: ids.cluster }), processors: [new BatchLogRecordProcessor(new GrpcLogExporter({ url: `http://127.0.0.1:${port}` }))] });
  const logger = provider.getLogger('speedscale-forwarder');
  for (const rr of rrs) logger.emit({ body: structuredClone(rr) as never, attributes: { service: ids.service, namespace: ids.namespace } });
  await provider.shutdown();
}

// ---- the gather scripts' OTLP-JSON decoding (_otlp_value, _kvlist_to_dict, parse_otlp_json) ----
type Any = Record<string, unknown>;
function otlpValue(v: Any): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('bytesValue' in v) return v.bytesValue;
  if ('kvlistValue' in v) return kvlistToDict(((v.kvlistValue as Any).values as Any[]) ?? []);
  if ('arrayValue' in v) return (((v.arrayValue as Any).values as Any[]) ?? []).map(otlpValue);
  return null;
}
function kvlistToDict(values: Any[]): Any {
  const out: Any = {};
  for (const kv of values) out[kv.key as string] = otlpValue((kv.value as Any) ?? {});
  return out;
}
function parseOtlpJson(data: string): Any[] {
  const doc = JSON.parse(data) as { resourceLogs?: { resource?: { attributes?: Any[] }; scopeLogs?: { logRecords?: { body?: Any }[] }[] }[] };
  const out: Any[] = [];
  for (const rl of doc.resourceLogs ?? []) {
    const res = kvlistToDict(rl.resource?.attributes ?? []);
    for (const sl of rl.scopeLogs ?? []) {
      for (const lr of sl.logRecords ?? []) {
        if (!lr.body || !('kvlistValue' in lr.body)) continue;
        const rec = kvlistToDict(((lr.body.kvlistValue as Any).values as Any[]) ?? []);
        if (!rec.cluster && res.cluster) rec.cluster = res.cluster;
        out.push(rec);
      }
    }
  }
  return out;
}

/** s3-gather.py's minute_partitions: <prefix>year=YYYY/month=MM/day=DD/hour=HH/minute=MM/ for every minute of the window. */
function minutePartitions(start: Date, end: Date, prefix: string): string[] {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const out: string[] = [];
  for (let t = Math.floor(start.getTime() / 60_000) * 60_000; t <= end.getTime(); t += 60_000) {
    const d = new Date(t);
    out.push(`${prefix}year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/minute=${p2(d.getUTCMinutes())}/`);
  }
  return out;
}

/** s3-gather.py: `aws s3 ls --recursive` of each minute partition, keys ending .json / .json.gz, each object one OTLP JSON document. */
async function s3Gather(endpoint: string, bucket: string, prefix: string, start: Date, end: Date): Promise<{ keys: string[]; records: Any[] }> {
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
  const keys: string[] = [];
  for (const p of minutePartitions(start, end, prefix)) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }));
    for (const o of page.Contents ?? []) if (o.Key!.endsWith('.json') || o.Key!.endsWith('.json.gz')) keys.push(o.Key!);
  }
  const records: Any[] = [];
  for (const k of keys) {
    const body = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body!.transformToString();
    records.push(...parseOtlpJson(body));
  }
  client.destroy();
  return { keys, records };
}

/** gcs-gather.py's hour_partitions: <prefix>year=YYYY/month=MM/day=DD/hour=HH/ for every hour of the window. */
function hourPartitions(start: Date, end: Date, prefix: string): string[] {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const out: string[] = [];
  for (let t = Math.floor(start.getTime() / 3_600_000) * 3_600_000; t <= end.getTime(); t += 3_600_000) {
    const d = new Date(t);
    out.push(`${prefix}year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/`);
  }
  return out;
}

/**
 * gcs-gather.py: the legacy (no prefix) and byoc/ hour partitions of the window, each listed
 * recursively (`gcloud storage ls -r gs://<bucket>/<partition>**`: objects.list by prefix on the
 * JSON API), objects ending .json / .json.gz fetched (`gcloud storage cat`: alt=media), each one
 * OTLP JSON document.
 */
async function gcsGather(apiEndpoint: string, bucket: string, start: Date, end: Date): Promise<{ names: string[]; records: Any[] }> {
  const b = new Storage({ apiEndpoint, projectId: 'byoc' }).bucket(bucket);
  const names: string[] = [];
  for (const p of [...hourPartitions(start, end, ''), ...hourPartitions(start, end, 'byoc/')]) {
    const [files] = await b.getFiles({ prefix: p });
    for (const f of files) if (f.name.endsWith('.json') || f.name.endsWith('.json.gz')) names.push(f.name);
  }
  const records: Any[] = [];
  for (const n of names) records.push(...parseOtlpJson((await b.file(n).download())[0].toString('utf8')));
  return { names, records };
}

function expectSamples(records: Any[], samples: RRPair[] = SAMPLES, ids = IDS): void {
  expect(records).toHaveLength(samples.length);
  const byUuid = new Map(records.map((r) => [r.uuid, r]));
  for (const rr of samples) expect(byUuid.get(rr.uuid)).toEqual(expectedRRPair(rr, ids));
}

describe('configs/byoc: each chart config runs under rrpipe and reads back through the chart\'s gather script', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    s3 = await startS3(['s3-archive', 'layout-archive']);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('fluentbit-s3: OTLP JSON objects at byoc/year=…/minute=MM/logs_<id>.json, all samples back via s3-gather\'s listing', async () => {
    const bucket = 's3-archive';
    const start = new Date(Date.now() - 60_000);
    const { grpc, service } = await startChart('fluentbit-s3', { S3_BUCKET: bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1' });
    try {
      await send(grpc, SAMPLES);
    } finally {
      await service.shutdown();
    }
    const { keys, records } = await s3Gather(s3.endpoint, bucket, 'byoc/', start, new Date());
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(OTEL_KEY);
    expectSamples(records);
  });

  it('fluentbit-gcs: through GCS\'s XML API signed with an HMAC key, the same objects; all samples back via gcs-gather\'s listing (JSON API)', async () => {
    // The GCS fake: the XML API subset the AWS SDK sends (SigV4 checked against the HMAC secret) over the same buckets as the JSON API gcloud reads.
    const gcs = new FakeGcs();
    const endpoint = await gcs.start();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    try {
      await new Storage({ apiEndpoint: endpoint, projectId: 'byoc' }).createBucket('speedscale-rrpair-demo');
      gcs.addHmacKey('GOOG1EBYOCCOLLECTOR', 'hmac-secret-of-the-service-account');
      // The chart's Deployment: the HMAC key as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
      process.env.AWS_ACCESS_KEY_ID = 'GOOG1EBYOCCOLLECTOR';
      process.env.AWS_SECRET_ACCESS_KEY = 'hmac-secret-of-the-service-account';
      const start = new Date(Date.now() - 60_000);
      const { grpc, service } = await startChart('fluentbit-gcs', { GCS_BUCKET: 'speedscale-rrpair-demo', GCS_ENDPOINT: endpoint, GCS_REGION: 'us-central1' });
      try {
        await send(grpc, SAMPLES);
      } finally {
        await service.shutdown();
      }
      expect(gcs.rejected).toEqual([]);
      expect(gcs.requests.some((r) => r.startsWith('PUT /speedscale-rrpair-demo/byoc/'))).toBe(true);
      const { names, records } = await gcsGather(endpoint, 'speedscale-rrpair-demo', start, new Date());
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) expect(n).toMatch(OTEL_KEY);
      expectSamples(records);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      await gcs.stop();
    }
  });

  it('fluentbit-s3 with layout.enabled: the known workload under byoc/namespace=…/app=…/, the rest under byoc/', async () => {
    const known = SAMPLES.slice(0, 60).map((rr) => ({ ...rr, uuid: `k${rr.uuid}`, tags: { ...(rr.tags as object), k8sAppPodNamespace: 'banking-app', k8sAppLabel: 'banking-gateway' } })) as RRPair[];
    const other = SAMPLES.slice(60, 120).map((rr) => ({ ...rr, uuid: `o${rr.uuid}`, tags: { ...(rr.tags as object), k8sAppPodNamespace: 'banking-app', k8sAppLabel: 'other' } })) as RRPair[];
    const start = new Date(Date.now() - 60_000);
    const { grpc, service } = await startChart('fluentbit-s3-layout', { S3_BUCKET: 'layout-archive', S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' });
    try {
      await send(grpc, [...known, ...other]);
    } finally {
      await service.shutdown();
    }
    const end = new Date();
    const wl = await s3Gather(s3.endpoint, 'layout-archive', 'byoc/namespace=banking-app/app=banking-gateway/', start, end);
    expectSamples(wl.records, known);
    const base = await s3Gather(s3.endpoint, 'layout-archive', 'byoc/', start, end);
    expectSamples(base.records, other);
  });

  it('azureblob: blobs YYYY/MM/DD/logs_HH_MM_SS.json_NNNN in container byoc, all samples back via azure-gather\'s listing', async () => {
    const az = await startAzurite();
    try {
      await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('byoc').create();
      const start = new Date(Date.now() - 1000);
      const { grpc, service } = await startChart('azureblob', { AZURE_BLOB_URL: `${az.blobUrl}/devstoreaccount1/`, AZURE_CONNECTION_STRING: az.connectionString, RRPIPE_QUEUE_DIR: tmp('rrpipe-queue-') });
      try {
        await send(grpc, SAMPLES);
      } finally {
        await service.shutdown();
      }
      const end = new Date(Date.now() + 1000);
      // azure-gather.py: day prefixes of the window, names ending .json or holding ".json_", the HH_MM_SS in the name inside the window.
      const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('byoc');
      const p2 = (n: number) => String(n).padStart(2, '0');
      const days = new Set<string>();
      for (let t = start.getTime(); t <= end.getTime() + 86_400_000; t += 86_400_000) {
        const d = new Date(Math.min(t, end.getTime()));
        days.add(`${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}/`);
      }
      const records: Any[] = [];
      let blobs = 0;
      for (const day of days) {
        for await (const b of container.listBlobsFlat({ prefix: day })) {
          if (!(b.name.endsWith('.json') || b.name.includes('.json_'))) continue;
          expect(b.name).toMatch(/^\d{4}\/\d\d\/\d\d\/logs_\d\d_\d\d_\d\d\.json_\d{1,4}$/);
          const m = /logs_(\d\d)_(\d\d)_(\d\d)\.json/.exec(b.name)!;
          const [y, mo, d] = day.slice(0, -1).split('/').map(Number);
          const ts = Date.UTC(y!, mo! - 1, d!, Number(m[1]), Number(m[2]), Number(m[3]));
          if (ts < Math.floor(start.getTime() / 1000) * 1000 || ts > end.getTime()) continue;
          blobs++;
          records.push(...parseOtlpJson((await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')));
        }
      }
      expect(blobs).toBeGreaterThan(0);
      expectSamples(records);
    } finally {
      await az.stop();
    }
  }, 120_000);

  it('elasticsearch: documents in exactly speedscale-rrpair, @timestamp the LogRecord\'s time, found by es-gather\'s @timestamp window query', async () => {
    const es = await startSearchEngineFake({ flavor: 'elasticsearch' });
    try {
      const start = new Date(Date.now() - 15 * 60_000);
      const { grpc, service } = await startChart('elasticsearch', { ES_ENDPOINT: es.url });
      try {
        await send(grpc, SAMPLES);
      } finally {
        await service.shutdown();
      }
      // es-gather.py --start=-15m: a range query on @timestamp over the index, RRPairs from _source.Body.
      const res = await fetch(`${es.url}/speedscale-rrpair/_search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ size: 1000, query: { range: { '@timestamp': { gte: start.toISOString(), lte: new Date().toISOString() } } } }),
      });
      expect(res.status).toBe(200);
      const hits = ((await res.json()) as { hits: { hits: { _index: string; _source: { Body: Any; '@timestamp': string } }[] } }).hits.hits;
      expect(new Set(hits.map((h) => h._index))).toEqual(new Set(['speedscale-rrpair']));
      // The samples were recorded long ago; @timestamp is when the forwarder sent them (the OTel rule).
      for (const h of hits) expect(Date.parse(h._source['@timestamp'])).toBeGreaterThanOrEqual(start.getTime());
      expectSamples(hits.map((h) => h._source.Body));
    } finally {
      await es.close();
    }
  });

  it('otlp: relayed to a second rrpipe (OTLP/HTTP receiver → OTel file exporter), the samples arrive whole', async () => {
    const [h, m] = [await freePort(), await freePort()];
    const dir = tmp('rrpipe-upstream-');
    const upstream = new Service({
      files: ['upstream.yaml'],
      texts: {
        'upstream.yaml': `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${h}\nexporters:\n  file:\n    path: ${dir}/logs.json\n    flush_interval: 0\nservice:\n  data_dir: ${dir}/state\n  telemetry: { metrics: { address: "127.0.0.1:${m}" } }\n  pipelines:\n    logs: { receivers: [otlp], exporters: [file] }\n`,
      },
      registry: await builtinRegistry(),
      env: {},
      logger: silentLogger(),
    });
    await upstream.start();
    try {
      const { grpc, service } = await startChart('otlp', { OTLP_LOGS_ENDPOINT: `http://127.0.0.1:${h}/v1/logs`, OTLP_TOKEN: 'tok-123' });
      try {
        await send(grpc, SAMPLES);
      } finally {
        await service.shutdown();
      }
    } finally {
      await upstream.shutdown();
    }
    // The OTel file exporter (the upstream's default layout) writes exactly its path: one OTLP JSON document per line.
    const lines = readFileSync(join(dir, 'logs.json'), 'utf8').split('\n').filter(Boolean);
    expectSamples(lines.flatMap(parseOtlpJson));
  });
});
