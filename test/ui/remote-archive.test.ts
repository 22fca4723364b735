import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { allSamples, chromiumPath, launchChromium, missing, startAzurite, startS3, tmpDir, waitFor } from '../support/index.js';
import { shopTraffic } from './traffic.js';

// The Read screen over remote archives: the samples are archived to S3 (s3rver) and the shop's
// traffic to Azure Blob Storage (Azurite), both through the archive connectors, and indexed in the
// embedded store without the RRPair. Opening a record makes query_api fetch it by its s3:// or
// azblob:// archive_uri, with the endpoint and credentials of the config's awss3 / azure_blob.
const START = '2025-03-18T00:40:00.000Z';
const END = '2025-03-18T01:00:00.000Z';
const samples = allSamples();
const shop = shopTraffic(Date.parse(START));

describe.skipIf(missing(chromiumPath() ?? 'chromium', '.ci/setup.d/ui.sh installs Debian\'s chromium'))('the explorer reads RRPairs from S3 and Azure Blob archives', () => {
  const t = tmpDir('rrpipe-ui-remote-');
  let s3: Awaited<ReturnType<typeof startS3>>;
  let az: Awaited<ReturnType<typeof startAzurite>>;
  let service: Service;
  let browser: Browser;
  let page: Page;
  let base = '';
  const count = async (): Promise<number> => {
    let n = 0;
    let after = '';
    for (;;) {
      const p = new URLSearchParams({ start: START, end: END, limit: '1000', ...(after ? { after } : {}) });
      const r = (await (await fetch(`${base}/api/v1/rrpairs?${p}`)).json()) as { hits: unknown[]; next?: string };
      n += r.hits.length;
      if (!r.next) return n;
      after = r.next;
    }
  };

  beforeAll(async () => {
    s3 = await startS3(['archive']);
    az = await startAzurite();
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('logs').create();
    for (const d of ['s3in', 'azin']) mkdirSync(join(t.dir, d));
    writeFileSync(join(t.dir, 's3in', 'samples.jsonl'), samples.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(t.dir, 'azin', 'shop.jsonl'), shop.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const yaml = `
receivers:
  file/s3:
    include: [${t.dir}/s3in/*.jsonl]
  file/az:
    include: [${t.dir}/azin/*.jsonl]
processors:
  indexing: {}
connectors:
  awss3:
    s3uploader: { s3_bucket: archive, s3_prefix: rr, endpoint: ${s3.endpoint}, s3_force_path_style: true }
    layout: native
  azure_blob:
    auth: { type: connection_string, connection_string: '${az.connectionString}' }
    prefix: rr
    layout: native
exporters:
  embedded:
    path: ${t.dir}/hot.db
    store_rrpair: false
extensions:
  query_api:
    endpoint: 127.0.0.1:0
    store: embedded
service:
  extensions: [query_api]
  data_dir: ${t.dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs/s3:
      receivers: [file/s3]
      exporters: [awss3]
    logs/az:
      receivers: [file/az]
      exporters: [azure_blob]
    logs/index:
      receivers: [awss3, azure_blob]
      processors: [indexing]
      exporters: [embedded]
`;
    service = new Service({ files: ['remote.yaml'], texts: { 'remote.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger() });
    await service.start();
    base = `http://127.0.0.1:${service.host!.getExtension<{ port: number }>('query_api')!.port}`;
    await waitFor(async () => (await count()) === samples.length + shop.length, { timeoutMs: 90_000, what: 'every record archived and indexed' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await service?.shutdown();
    await s3?.stop();
    await az?.stop();
    t.cleanup();
  });

  /**
   * Open the first row of a filtered list once every row shown is one of that filter's (only the
   * hash changes, so the previous list stays until the new query answers); the Read screen's
   * "read from" once it shows.
   */
  const openFirst = async (hash: string, isMatch: (cells: string[]) => boolean): Promise<{ id: string; from: string }> => {
    await page.goto(`${base}/ui#start=${START}&end=${END}&${hash}&tab=find`);
    await waitFor(async () => {
      const rows = await page.getByTestId('row').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((c) => c.textContent ?? '')));
      return rows.length > 0 && rows.every(isMatch);
    }, { what: 'the filtered rows' });
    const id = (await page.getByTestId('row').first().getAttribute('data-id'))!;
    await page.getByTestId('row').first().click();
    const from = await waitFor(async () => (await page.getByTestId('from').textContent()) || undefined, { what: 'the record read' });
    return { id, from };
  };

  it('an s3:// archive_uri: the gzip response body of a sample, decoded on the server, is on the page', async () => {
    const { id, from } = await openFirst(`endpoint=${encodeURIComponent('^/v1/fine_tuning/jobs/ftjob-')}`, (c) => c[4]!.startsWith('/v1/fine_tuning/jobs/ftjob-'));
    expect(from).toMatch(/^s3:\/\/archive\/rr\/.+#\d+$/);
    const rr = samples.find((r) => r.uuid === id)!;
    expect(rr.http!.res!.headers!['Content-Encoding']).toEqual(['gzip']);
    const want = JSON.stringify(JSON.parse(gunzipSync(Buffer.from(rr.http!.res!.bodyBase64!, 'base64')).toString('utf8')), null, 2);
    await expect.poll(() => page.getByTestId('response-body').textContent()).toBe(want);
    expect(await page.getByTestId('response').textContent()).toContain('decoded base64 → gzip');
  });

  it('an azblob:// archive_uri: the JSON request and response bodies of a shop call are on the page', async () => {
    const { id, from } = await openFirst('service=payments&direction=OUT', (c) => c[1] === 'payments' && c[2] === 'OUT');
    expect(from).toMatch(/^azblob:\/\/devstoreaccount1\/logs\/rr\/.+#\d+$/);
    const rr = shop.find((r) => r.uuid === id)!;
    const body = (b64: string) => JSON.stringify(JSON.parse(Buffer.from(b64, 'base64').toString('utf8')), null, 2);
    await expect.poll(() => page.getByTestId('request-body').textContent()).toBe(body(rr.http!.req!.bodyBase64!));
    expect(await page.getByTestId('response-body').textContent()).toBe(body(rr.http!.res!.bodyBase64!));
    expect(await page.getByTestId('read-title').textContent()).toContain('/v1/charges');
  });
});
