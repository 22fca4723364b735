import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { silentLogger } from '../../src/core/logger.js';
import { Service } from '../../src/service/service.js';
import { allSamples, chromiumPath, launchChromium, missing, requireBuild, runCli, startRedis, tmpDir, waitFor, type RedisServer } from '../support/index.js';
import { shopTraffic } from './traffic.js';

// The traffic explorer driven as a person would: Chromium on /ui of a daemon that loaded the
// samples (and a small shop's traffic recorded at both ends) through redaction, the local archive
// and indexing. Screenshots of each screen go to docs/img/ when RRPIPE_UI_SCREENSHOTS=1.
const START = '2025-03-18T00:40:00.000Z';
const END = '2025-03-18T01:00:00.000Z';
const SHOTS = process.env.RRPIPE_UI_SCREENSHOTS === '1' ? resolve(import.meta.dirname, '../../docs/img') : undefined;

const samples = allSamples();
const shop = shopTraffic(Date.parse(START));
const TOTAL = samples.length + shop.length;

interface Doc { id: string; ts: string; service: string; status: string }

const stores: { name: string; yaml(dir: string, redisPort?: number): string; needs?: string }[] = [
  { name: 'embedded', yaml: (dir) => `embedded:\n    path: ${dir}/hot.db\n    store_rrpair: false` },
  { name: 'redis', yaml: (_dir, port) => `redis:\n    endpoint: 127.0.0.1:${port}\n    store_rrpair: false`, needs: 'redis-server' },
];

const noBrowser = missing(chromiumPath() ?? 'chromium', '.ci/setup.d/ui.sh installs Debian\'s chromium');

for (const s of stores) {
  const skip = noBrowser ?? (s.needs ? missing(s.needs, `.ci/setup.d/${s.needs === 'redis-server' ? 'redis' : s.name}.sh`) : undefined);
  describe.skipIf(skip)(`the traffic explorer over the ${s.name} store`, () => {
    const t = tmpDir('rrpipe-ui-');
    let service: Service;
    let redis: RedisServer | undefined;
    let browser: Browser;
    let page: Page;
    let base = '';
    const api = async <T,>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;
    /** Every index document the store answers for a filter, through the plain query API. */
    const storeDocs = async (q: Record<string, string>): Promise<Doc[]> => {
      const out: Doc[] = [];
      let after = '';
      for (;;) {
        const p = new URLSearchParams({ start: START, end: END, limit: '1000', ...q, ...(after ? { after } : {}) });
        const r = await api<{ hits: Doc[]; next?: string }>(`/api/v1/rrpairs?${p}`);
        out.push(...r.hits);
        if (!r.next) return out;
        after = r.next;
      }
    };
    const shot = async (name: string) => {
      if (!SHOTS) return;
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, `explorer-${name}.png`), fullPage: false });
    };
    const rowIds = () => page.getByTestId('row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    const applyFilters = async (f: Record<string, string>) => {
      for (const [k, v] of Object.entries(f)) {
        if (k === 'direction') await page.getByTestId('filter-direction').selectOption(v);
        else await page.getByTestId(`filter-${k}`).fill(v);
      }
      await page.getByTestId('apply').click();
    };

    beforeAll(async () => {
      requireBuild();
      if (s.name === 'redis') redis = await startRedis();
      mkdirSync(join(t.dir, 'inbox'));
      writeFileSync(join(t.dir, 'inbox', 'traffic.jsonl'), [...samples, ...shop].map((r) => JSON.stringify(r)).join('\n') + '\n');
      const yaml = `
receivers:
  file/inbox:
    include: [${t.dir}/inbox/*.jsonl]
processors:
  redaction:
    secret: ui-test-secret
  indexing: {}
connectors:
  local_archive:
    directory: ${t.dir}/archive
exporters:
  ${s.yaml(t.dir, redis?.port)}
extensions:
  query_api:
    endpoint: 127.0.0.1:0
    store: ${s.name}
service:
  extensions: [query_api]
  data_dir: ${t.dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs:
      receivers: [file/inbox]
      processors: [redaction]
      exporters: [local_archive]
    logs/index:
      receivers: [local_archive]
      processors: [indexing]
      exporters: [${s.name}]
`;
      service = new Service({ files: ['ui.yaml'], texts: { 'ui.yaml': yaml }, registry: await builtinRegistry(), logger: silentLogger() });
      await service.start();
      base = `http://127.0.0.1:${service.host!.getExtension<{ port: number }>('query_api')!.port}`;
      await waitFor(async () => (await storeDocs({})).length === TOTAL, { timeoutMs: 60_000, what: `${TOTAL} records in the store` });
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    });
    afterAll(async () => {
      await browser?.close();
      await service?.shutdown();
      await redis?.stop();
      t.cleanup();
    });

    it('finds: an absolute time range, then service and status filters, lists exactly what the store holds', async () => {
      await page.goto(`${base}/ui`);
      await applyFilters({ start: START, end: END });
      await expect.poll(() => page.getByTestId('total').textContent()).toMatch(new RegExp(`^${TOTAL} matching calls`));
      // The first page, in the store's order.
      const all = await storeDocs({});
      await expect.poll(rowIds).toEqual(all.slice(0, 50).map((d) => d.id));
      // The histogram is drawn from the server's buckets.
      const h = await api<{ counts: number[]; total: number }>(`/api/v1/explore/histogram?start=${START}&end=${END}&buckets=80`);
      expect(h.total).toBe(TOTAL);
      expect(await page.getByTestId('histogram').locator('canvas').count()).toBe(1);
      await shot('find');

      await applyFilters({ service: 'orders', status: '^5' });
      const want = await storeDocs({ service: 'orders', status: '^5' });
      const fromInput = shop.filter((r) => r.service === 'orders' && r.status!.startsWith('5'));
      expect(want.length).toBe(fromInput.length);
      expect(want.length).toBeGreaterThan(0);
      await expect.poll(rowIds).toEqual(want.map((d) => d.id));
      const cells = await page.getByTestId('row').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
      for (const c of cells) {
        expect(c[1]).toBe('orders');
        expect(c[5]).toMatch(/^5\d\d$/);
      }
      await expect.poll(() => page.getByTestId('total').textContent()).toMatch(new RegExp(`^${want.length} matching calls`));

      // Sorting by duration (descending) is done by the server over every match.
      await page.getByTestId('sort-duration').click();
      await page.getByTestId('sort-duration').click();
      const byDuration = [...shop.filter((r) => r.service === 'orders' && r.status!.startsWith('5'))].sort((a, b) => b.duration! - a.duration! || (a.ts! < b.ts! ? -1 : 1));
      await expect.poll(async () => (await page.getByTestId('row').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[6]!.textContent)))).toEqual(byDuration.map((r) => `${r.duration} ms`));
    });

    it('reads: one RRPair fetched through its archive_uri, with the gzip body decoded and pretty-printed and redaction markers shown', async () => {
      await page.goto(`${base}/ui#start=${START}&end=${END}&endpoint=${encodeURIComponent('^/v1/fine_tuning/jobs/ftjob-')}&tab=find`);
      // Only the hash changes, so the previous test's rows stay until the new query answers: wait for this filter's rows.
      const locations = () => page.getByTestId('row').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[4]?.textContent ?? ''));
      await waitFor(async () => {
        const locs = await locations();
        return locs.length > 0 && locs.every((l) => l.startsWith('/v1/fine_tuning/jobs/ftjob-'));
      }, { what: 'the fine_tuning rows' });
      const id = (await page.getByTestId('row').first().getAttribute('data-id'))!;
      await page.getByTestId('row').first().click();
      await expect.poll(() => page.getByTestId('from').textContent()).toMatch(/^file:\/\/.*#\d+$/);
      // The archived record, decoded here with zlib, is what the page shows (pretty JSON).
      const rr = samples.find((r) => r.uuid === id)!;
      expect(rr.http!.res!.headers!['Content-Encoding']).toEqual(['gzip']);
      const want = JSON.stringify(JSON.parse(gunzipSync(Buffer.from(rr.http!.res!.bodyBase64!, 'base64')).toString('utf8')), null, 2);
      expect(await page.getByTestId('response-body').textContent()).toBe(want);
      expect(await page.getByTestId('response').textContent()).toContain('decoded base64 → gzip');
      // The bearer token was redacted before it was archived; the page marks it.
      const marks = await page.getByTestId('request').locator('mark.redacted').allTextContents();
      expect(marks.length).toBeGreaterThan(0);
      for (const m of marks) expect(m).toMatch(/^REDACTED-AUTHORIZATION-[0-9a-f]{20}$/);
      expect(await page.getByTestId('request').textContent()).not.toContain(rr.http!.req!.headers!.Authorization![0]!.slice(7, 30));
      expect(await page.getByTestId('duration').textContent()).toBe(`${rr.duration} ms`);
      await page.getByTestId('response').scrollIntoViewIfNeeded();
      await shot('read');
      await page.getByTestId('back').click();
      await expect.poll(() => page.getByTestId('row').count()).toBeGreaterThan(0);
    });

    it('understands: the service map shows who calls whom with counts and error rates, and a service leads to its calls', async () => {
      await page.goto(`${base}/ui#start=${START}&end=${END}&tab=map`);
      await waitFor(async () => (await page.getByTestId('edge-row').count()) > 0, { what: 'service map' });
      const rows = await page.getByTestId('edge-row').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((c) => c.textContent)));
      const edge = (from: string, to: string) => rows.find((r) => r[0] === from && r[1] === to);
      const calls = (svc: string, dir: string) => shop.filter((r) => r.service === svc && r.direction === dir);
      const rate = (rs: typeof shop) => `${((rs.filter((r) => Number(r.status) >= 500).length / rs.length) * 100).toFixed(0)}%`;
      expect(edge('frontend', 'orders')?.slice(2, 4)).toEqual([String(calls('frontend', 'OUT').length), rate(calls('frontend', 'OUT'))]);
      expect(edge('orders', 'payments')?.slice(2, 4)).toEqual([String(calls('orders', 'OUT').length), rate(calls('orders', 'OUT'))]);
      expect(edge('payments', 'api.stripe.com')?.[2]).toBe(String(calls('payments', 'OUT').length));
      expect(edge('(clients)', 'frontend')?.[2]).toBe(String(calls('frontend', 'IN').length));
      // orders' inbound calls are frontend's outbound ones: drawn once, not again from (clients).
      expect(edge('(clients)', 'orders')).toBeUndefined();
      // The recorded samples: outbound HTTPS to OpenAI.
      expect(await page.getByTestId('technologies').textContent()).toContain('api.openai.com');
      expect(await page.getByTestId('protocols').textContent()).toContain('https');
      await shot('map');
      // Follow the map: clicking the payments service lists its calls.
      await page.locator('[data-testid=node-service][data-id=payments]').click();
      const want = await storeDocs({ service: 'payments' });
      await expect.poll(rowIds).toEqual(want.map((d) => d.id));
      expect(page.url()).toContain('service=payments');
      // The protocol summary leads to the calls of one protocol: the protocol filter, in the filter bar.
      await page.goto(`${base}/ui#start=${START}&end=${END}&tab=map`);
      await page.locator('[data-testid=protocol-row][data-protocol=https] a').click();
      const https = await storeDocs({ protocol: 'https' });
      expect(https.length).toBe([...samples, ...shop].filter((r) => r.l7protocol === 'https').length);
      await expect.poll(rowIds).toEqual(https.slice(0, 50).map((d) => d.id));
      expect(await page.getByTestId('filter-protocol').inputValue()).toBe('https');
      await expect.poll(() => page.getByTestId('total').textContent()).toMatch(new RegExp(`^${https.length} matching calls`));
    });

    it('takes away: the exported raw.jsonl is byte for byte what the `rrpipe snapshot` command shown on the page writes', async () => {
      await page.goto(`${base}/ui#start=${START}&end=${END}&service=orders&tab=export`);
      const command = await waitFor(async () => {
        const c = await page.getByTestId('command').textContent();
        return c && c.startsWith('rrpipe snapshot') ? c : undefined;
      });
      expect(command).toContain(`--from ${t.dir}/archive`);
      expect(command).toContain('--service orders');
      await shot('export');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
      const exported = readFileSync((await download.path())!, 'utf8');
      expect(exported.trim().split('\n').length).toBe(shop.filter((r) => r.service === 'orders').length);
      // Run the command as shown, writing to a file of ours.
      const args = command.split(' ').slice(1).map((a) => a.replace(/^'(.*)'$/, '$1'));
      const out = join(t.dir, 'snapshot.raw.jsonl');
      args[args.indexOf('--out') + 1] = out;
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(exported).toBe(readFileSync(out, 'utf8'));
      await expect.poll(() => page.getByTestId('export-status').textContent()).toMatch(/^Exported \d+ records/);
    });
  });
}
