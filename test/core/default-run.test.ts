import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, readJsonl, RrpipeProcess, sampleFiles, tmp, waitFor } from '../support/index.js';

describe('rrpipe run with no arguments (the embedded default)', () => {
  it('starts, answers on the health port, serves metrics, and writes every record dropped into its inbox to its outbox', async () => {
    const dir = tmp();
    const [health, metrics] = [await freePort(), await freePort()];
    const query = await freePort();
    const p = new RrpipeProcess(['run'], {
      RRPIPE_DATA: dir,
      RRPIPE_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
      RRPIPE_METRICS_ADDRESS: `127.0.0.1:${metrics}`,
      RRPIPE_QUERY_ENDPOINT: `127.0.0.1:${query}`,
    });
    try {
      await p.waitLog('rrpipe started');
      const res = await fetch(`http://127.0.0.1:${health}/`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { pipelines: unknown }).pipelines).toEqual({ logs: 'ok', 'logs/index': 'ok' });

      mkdirSync(join(dir, 'inbox'), { recursive: true });
      const expected = sampleFiles().flatMap((f) => readJsonl(f));
      for (const f of sampleFiles()) copyFileSync(f, join(dir, 'inbox', f.split('/').pop()!.replace('.raw', '')));
      const out = join(dir, 'outbox');
      const got = await waitFor(() => {
        if (!existsSync(out)) return undefined;
        const lines = readdirSync(out).filter((f) => !f.startsWith('.')).flatMap((f) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean));
        return lines.length === expected.length ? lines.map((l) => JSON.parse(l)) : undefined;
      }, { what: 'every record in the outbox', timeoutMs: 20_000 });
      const byUuid = (a: { uuid?: string }, b: { uuid?: string }) => String(a.uuid).localeCompare(String(b.uuid));
      got.sort(byUuid);
      expected.sort(byUuid);
      expect(got.map((r) => r.uuid)).toEqual(expected.map((r) => r.uuid));
      // The default pipeline redacts: secrets are masked, everything else is as it came.
      for (let i = 0; i < got.length; i++) {
        const auth = got[i].http.req.headers.Authorization?.[0];
        if (expected[i]!.http!.req!.headers!.Authorization) expect(auth).toMatch(/^Bearer REDACTED-AUTHORIZATION-[0-9a-f]{20}$/);
        expect(got[i].http.req.uri).toBe(expected[i]!.http!.req!.uri);
        expect(got[i].ts).toBe(expected[i]!.ts);
        expect(got[i].http.res.statusCode).toBe(expected[i]!.http!.res!.statusCode);
      }
      expect(JSON.stringify(got)).not.toContain('Bearer empty-api-key');

      // Archived under ./archive, then indexed: the query API finds every record, each pointing at the archive.
      const page = await waitFor(async () => {
        const r = (await (await fetch(`http://127.0.0.1:${query}/api/v1/rrpairs?start=2000-01-01T00:00:00Z&limit=1000`)).json()) as { hits?: { archive_uri?: string }[] };
        return r.hits?.length === expected.length ? { hits: r.hits } : undefined;
      }, { what: 'every record indexed', timeoutMs: 20_000 });
      expect(page.hits.every((d: { archive_uri?: string }) => d.archive_uri?.startsWith(`file://${dir}/archive/`))).toBe(true);

      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      expect(text).toContain(`rrpipe_records_accepted_total{component="file/inbox",kind="receiver",pipeline=""} ${expected.length}`);
      expect(text).toContain(`rrpipe_records_sent_total{component="file/outbox",kind="exporter",pipeline=""} ${expected.length}`);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(text).toMatch(/^process_cpu_seconds_total [\d.]+/m);
    } finally {
      p.signal('SIGTERM');
      expect(await p.exited).toBe(0);
    }
  });
});
