/**
 * test/fakes/gcs's XML API (what the fluentbit-gcs chart's awss3 exporter writes through) is strict
 * where GCS is: the SigV4 signature is checked against the HMAC secret, the payload hash against the
 * body, and the AWS SDK's default flexible checksum headers are refused, as GCS refuses them.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/layouts/s3.js';
import { FakeGcs } from '../support/index.js';

const KEY = { accessKeyId: 'GOOG1EFAKEKEY', secretAccessKey: 'the-hmac-secret' };

describe('the GCS fake\'s S3-compatible XML API', () => {
  const gcs = new FakeGcs();
  let endpoint = '';
  const client = (o: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) =>
    new S3Client({ region: 'us-central1', endpoint, forcePathStyle: true, credentials: KEY, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1, ...o });

  beforeAll(async () => {
    endpoint = await gcs.start();
    gcs.addHmacKey(KEY.accessKeyId, KEY.secretAccessKey);
    await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).createBucket('bkt');
  });
  afterAll(() => gcs.stop());

  it('stores a signed PUT in the bucket the JSON API reads, and lists it with ListObjectsV2 (rrpipe\'s S3 store, pages of 1)', async () => {
    const c = client();
    await c.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'byoc/a b/x.json', Body: Buffer.from('{"x":1}'), ContentType: 'application/json', StorageClass: 'STANDARD' }));
    await c.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'byoc/y.json', Body: Buffer.from('{"y":2}') }));
    const [meta] = await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).bucket('bkt').file('byoc/a b/x.json').getMetadata();
    expect(meta.contentType).toBe('application/json');
    const [data] = await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).bucket('bkt').file('byoc/a b/x.json').download();
    expect(data.toString()).toBe('{"x":1}');
    const page = await c.send(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'byoc/', MaxKeys: 1 }));
    expect(page.Contents?.map((o) => o.Key)).toEqual(['byoc/a b/x.json']);
    expect(page.IsTruncated).toBe(true);
    c.destroy();
    // rrpipe's S3 store against a non-AWS endpoint sends no default checksum and pages through.
    const store = new S3Store({ bucket: 'bkt', endpoint, region: 'us-central1', forcePathStyle: true, credentials: KEY });
    const keys: string[] = [];
    for await (const o of store.list('byoc/')) keys.push(o.key);
    expect(keys).toEqual(['byoc/a b/x.json', 'byoc/y.json']);
    await store.put('byoc/z.json', Buffer.from('{}'));
    await store.close();
    expect(gcs.rejected).toEqual([]);
  });

  it('refuses a wrong HMAC secret, an unknown access id and the SDK\'s default CRC32 checksum headers', async () => {
    const put = (c: S3Client) => c.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'k.json', Body: Buffer.from('{}') }));
    await expect(put(client({ credentials: { ...KEY, secretAccessKey: 'wrong' } }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
    await expect(put(client({ credentials: { ...KEY, accessKeyId: 'GOOG1EOTHER' } }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
    await expect(put(client({ requestChecksumCalculation: 'WHEN_SUPPORTED' }))).rejects.toMatchObject({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } });
    expect(gcs.rejected.at(-1)).toMatch(/x-amz-(sdk-checksum-algorithm|checksum-crc32)/);
    const [files] = await new Storage({ apiEndpoint: endpoint, projectId: 'p' }).bucket('bkt').getFiles({ prefix: 'k.json' });
    expect(files).toEqual([]);
  });
});
