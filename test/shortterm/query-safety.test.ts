import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryTimeoutError, type QueryableStore } from '../../src/core/query.js';
import { EmbeddedStore } from '../../src/exporters/embedded/store.js';
import { createQueryApi } from '../../src/extensions/query_api/index.js';
import { SqlWorker } from '../../src/exporters/embedded/sql-worker.js';
import { threadMemory } from '../../src/core/thread-memory.js';
import type { Host } from '../../src/core/component.js';
import type { ComponentMetrics } from '../../src/core/telemetry.js';
import { RrpipeProcess } from '../support/proc.js';
import { requireBuild, tmpDir, waitFor } from '../support/index.js';
import { genRRPairs, toRecords } from './support.js';

/*
 * A user's regex must not freeze the daemon. With JavaScript's backtracking RegExp inside SQLite's
 * REGEXP on the main thread, endpoint=^(.*){10}Z$ over a 35-character location ran for minutes:
 * health, metrics and SIGTERM waited for it.
 */
const PATHOLOGICAL = '^(.*){10}Z$';
const LOCATION = '/api/' + 'x'.repeat(30); // 35 characters, no Z: the worst case for backtracking

describe('user regexes run in linear time, off the event loop, with a deadline (process)', () => {
  const t = tmpDir('rrpipe-qsafe-');
  let proc: RrpipeProcess;
  let api = '';
  let health = '';
  const N = 200;

  beforeAll(async () => {
    requireBuild(); // not tsc here: rewriting dist/ under the test files running beside this one broke them (a CLI read a half-written module)
    mkdirSync(join(t.dir, 'in'));
    const rrs = genRRPairs(N, Date.now(), 3_600_000, 7).map((r) => ({ ...r, location: LOCATION }));
    writeFileSync(join(t.dir, 'in', 'a.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const cfg = join(t.dir, 'c.yaml');
    writeFileSync(cfg, `
receivers:
  file: { include: [${t.dir}/in/*.jsonl] }
exporters:
  embedded: { path: ${t.dir}/store.db }
extensions:
  health_check: { endpoint: 127.0.0.1:0 }
  query_api: { endpoint: 127.0.0.1:0, store: embedded }
service:
  extensions: [health_check, query_api]
  data_dir: ${t.dir}/data
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [embedded] }
`);
    proc = new RrpipeProcess(['run', '-c', cfg]);
    const q = (await proc.waitLog('query API listening')) as { port: number };
    const h = (await proc.waitLog('health check listening')) as { port: number };
    api = `http://127.0.0.1:${q.port}/api/v1/rrpairs`;
    health = `http://127.0.0.1:${h.port}/`;
    await waitFor(async () => ((await (await fetch(`${api}?start=-3h&limit=500`)).json()) as { count: number }).count === N, { timeoutMs: 120_000, what: 'all records in the store' });
  }, 300_000);

  afterAll(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    t.cleanup();
  });

  it('health answers 200 while a pathological query is in flight, and the query gives the right answer', async () => {
    const slow = fetch(`${api}?start=-3h&limit=500&endpoint=${encodeURIComponent(PATHOLOGICAL)}`);
    const h = await fetch(health);
    expect(h.status).toBe(200);
    const r = await slow;
    expect(r.status).toBe(200);
    expect(((await r.json()) as { count: number }).count).toBe(0);
    // The same construct that matches: every row, in linear time.
    const all = (await (await fetch(`${api}?start=-3h&limit=500&endpoint=${encodeURIComponent('^(.*){10}x$')}`)).json()) as { count: number };
    expect(all.count).toBe(N);
  }, 30_000);

  it('refuses what RE2 cannot run in linear time with a clear 400', async () => {
    const r = await fetch(`${api}?start=-3h&endpoint=${encodeURIComponent('(x)\\1')}`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/endpoint.*linear time/);
    const look = await fetch(`${api}?start=-3h&endpoint=${encodeURIComponent('x(?=y)')}`);
    expect(look.status).toBe(400);
  });

  it('answers 400, not 500, to a bad percent escape in an id', async () => {
    const r = await fetch(`${api}/%E0%A4%A`);
    expect(r.status).toBe(400);
  });

  it('SIGTERM during a pathological query: the process exits cleanly', async () => {
    const pending = fetch(`${api}?start=-3h&limit=500&endpoint=${encodeURIComponent('^(.*){12}Z$')}`).catch(() => undefined);
    proc.signal('SIGTERM');
    expect(await proc.exited).toBe(0);
    await pending;
  }, 30_000);
});

describe('the query deadline', () => {
  const t = tmpDir('rrpipe-qdl-');
  afterAll(() => t.cleanup());

  it('a query past its deadline is stopped in the worker, and the next query runs', async () => {
    const store = new EmbeddedStore({ path: join(t.dir, 's.db') });
    store.write(toRecords(genRRPairs(5, Date.now(), 60_000, 3)));
    const w = new SqlWorker(join(t.dir, 's.db'));
    // Never ends on its own: a recursive CTE calling REGEXP for every row.
    const forever = w.all(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE CAST(x AS TEXT) REGEXP 'z' LIMIT 1`, [], AbortSignal.timeout(300));
    await expect(forever).rejects.toThrow();
    // the stopped worker's heap is forgotten (memory_limiter counts only live threads)
    const queryThreads = () => threadMemory.threads().filter((h) => h.name === 'embedded-store-query');
    expect(queryThreads()).toEqual([]);
    const rows = await w.all('SELECT count(*) AS n FROM rrpairs', []);
    expect(rows[0]!.n).toBe(5);
    // the new worker reported its heap with its answer
    expect(queryThreads()).toHaveLength(1);
    expect(queryThreads()[0]!.heapUsed).toBeGreaterThan(0);
    await w.close();
    expect(queryThreads()).toEqual([]);
    // The store's own query path goes through its worker too.
    expect((await store.query({ limit: 10 })).hits.length).toBe(5);
    await store.close();
  }, 30_000);

  it('query_api answers 503 and counts a query that does not end by its deadline', async () => {
    const hanging: QueryableStore = { query: (_f, o) => new Promise((_, reject) => o?.signal?.addEventListener('abort', () => reject(o.signal!.reason))) };
    let timeouts = 0;
    const metrics = { counter: () => ({ inc: () => void timeouts++ }) } as unknown as ComponentMetrics;
    const api = createQueryApi({ endpoint: '127.0.0.1:0', store: 'hot', default_limit: 10, max_limit: 100, default_start: '-1h', timeout: 200, scan_limit: 1000, export_limit: 100 }, undefined, metrics);
    const host = { getExporter: () => ({}), getExporterComponent: () => hanging } as unknown as Host;
    await api.start(host);
    try {
      const r = await fetch(`http://127.0.0.1:${api.port}/api/v1/rrpairs`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: string }).error).toMatch(/deadline/);
      expect(timeouts).toBe(1);
    } finally {
      await api.shutdown(AbortSignal.timeout(1000));
    }
  });

  it('withDeadline rejects with QueryTimeoutError', async () => {
    const { withDeadline } = await import('../../src/core/query.js');
    await expect(withDeadline(50, () => new Promise(() => {}))).rejects.toBeInstanceOf(QueryTimeoutError);
  });
});
