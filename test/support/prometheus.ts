import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './net.js';
import { startProcess, stopProcess } from './servers.js';
import { tmpDir } from './tmp.js';

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  port: number;
  /** An instant PromQL query through the HTTP API (/api/v1/query); throws on an error answer. */
  query(expr: string, time?: number): Promise<PromVector[]>;
  /** The raw /api/v1/query answer's data (resultType and result), for scalars and matrices. */
  queryRaw(expr: string, time?: number): Promise<{ resultType: string; result: unknown }>;
  /** Active scrape targets with their health. */
  targets(): Promise<{ scrapePool: string; health: string; lastError: string; scrapeUrl: string }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus server (Debian package prometheus) on 127.0.0.1 with a free port, its TSDB in a
 * temp dir, the remote-write receiver on, and optional scrape jobs.
 */
export async function startPrometheus(opts: { scrape?: { job: string; target: string; interval?: string }[] } = {}): Promise<PrometheusServer> {
  const t = tmpDir('rrpipe-prom-');
  const port = await freePort();
  const jobs = (opts.scrape ?? []).map((j) => `  - job_name: ${j.job}\n    scrape_interval: ${j.interval ?? '1s'}\n    static_configs:\n      - targets: ["${j.target}"]\n`).join('');
  const cfg = join(t.dir, 'prometheus.yml');
  writeFileSync(cfg, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs || '  []\n'}`.replace('scrape_configs:\n  []', 'scrape_configs: []'));
  const child = await startProcess('prometheus', [
    `--config.file=${cfg}`, `--storage.tsdb.path=${join(t.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-remote-write-receiver',
  ], /Server is ready to receive web requests/);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const queryRaw = async (expr: string, time?: number) => {
    const u = new URL(`${url}/api/v1/query`);
    u.searchParams.set('query', expr);
    if (time !== undefined) u.searchParams.set('time', String(time));
    const res = await fetch(u);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: unknown } };
    if (body.status !== 'success') throw new Error(`PromQL ${expr}: ${body.error}`);
    return body.data;
  };
  return {
    url, port,
    queryRaw,
    async query(expr, time) {
      const d = await queryRaw(expr, time);
      if (d.resultType !== 'vector') throw new Error(`PromQL ${expr}: expected a vector, got ${d.resultType}`);
      return d.result as PromVector[];
    },
    async targets() {
      const res = await fetch(`${url}/api/v1/targets`);
      const body = (await res.json()) as { data: { activeTargets: { scrapePool: string; health: string; lastError: string; scrapeUrl: string }[] } };
      return body.data.activeTargets;
    },
    async stop() {
      await stopProcess(child);
      t.cleanup();
    },
  };
}
