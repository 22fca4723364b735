import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { MetricPoint, SumPoint } from '../../src/core/metric.js';
import { loadConfig } from '../../src/config/load.js';
import { Service } from '../../src/service/service.js';
import { expectedTraffic, grafanaChartComponents, metricSinks, metricsTestRegistry, tmp, trafficSamples, waitFor } from '../support/index.js';

const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
  metricSinks.clear();
});

/** The grafana chart's metrics derivation, with a file receiver in place of otlp. */
const chartShaped = (dir: string, extra = '') => `
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false, batch_size: 7 }
processors:
  batch: {}
${grafanaChartComponents('processors', 'transform/rrpair-attrs', 'filter/http-only', 'deltatocumulative/traffic')}
connectors:
${grafanaChartComponents('connectors', 'count', 'sum')}
exporters:
  metriccapture: { label: out }
${extra}
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs/metrics:
      receivers: [file]
      processors: [transform/rrpair-attrs, filter/http-only, batch]
      exporters: [count, sum]
    metrics:
      receivers: [count, sum]
      processors: [deltatocumulative/traffic, batch]
      exporters: [metriccapture]
`;

/** The last cumulative value of each stream of `name`, keyed by its attributes. */
function latest(points: MetricPoint[], name: string, key: (p: SumPoint) => string): Map<string, number> {
  const out = new Map<string, { t: bigint; v: number }>();
  for (const p of points) {
    if (p.name !== name || p.type !== 'sum') continue;
    const k = key(p);
    const prev = out.get(k);
    if (!prev || p.timeNs > prev.t) out.set(k, { t: p.timeNs, v: p.value });
  }
  return new Map([...out].map(([k, e]) => [k, e.v]));
}

async function run(text: string): Promise<Service> {
  const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': text }, registry: await metricsTestRegistry(), logger: silentLogger() });
  await s.start();
  running.push(s);
  return s;
}

describe('count and sum connectors in the grafana chart shape', () => {
  it('speedscale_calls by svc and status and speedscale_request_duration_ms_sum by svc equal the counts and sums of the HTTP RRPairs', async () => {
    const dir = tmp();
    const rrs = trafficSamples();
    writeFileSync(join(dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await run(chartShaped(dir));
    const want = expectedTraffic(rrs);
    const total = [...want.calls.values()].reduce((a, b) => a + b, 0);
    const got = () => latest(metricSinks.get('out') ?? [], 'speedscale_calls', (p) => `${p.attributes.svc}|${p.attributes.status}`);
    await waitFor(() => [...got().values()].reduce((a, b) => a + b, 0) === total, { what: `${total} calls counted` });
    expect(got()).toEqual(want.calls);
    const wantSum = [...want.durationSum.values()].reduce((a, b) => a + b, 0);
    const sumNow = () => [...latest(metricSinks.get('out')!, 'speedscale_request_duration_ms_sum', (p) => String(p.attributes.svc)).values()].reduce((a, b) => a + b, 0);
    await waitFor(() => Math.abs(sumNow() - wantSum) < 1e-6, { what: 'durations summed' });
    const sums = latest(metricSinks.get('out')!, 'speedscale_request_duration_ms_sum', (p) => String(p.attributes.svc));
    expect([...sums.keys()].sort()).toEqual([...want.durationSum.keys()].sort());
    for (const [k, v] of want.durationSum) expect(sums.get(k)).toBeCloseTo(v, 6);
    const calls = metricSinks.get('out')!.filter((p) => p.name === 'speedscale_calls') as SumPoint[];
    expect(calls.every((p) => p.temporality === 'cumulative' && p.monotonic)).toBe(true);
    // HTTPS records were filtered out before counting: no series carries them.
    expect(rrs.some((r) => r.l7protocol === 'https')).toBe(true);
  });

  it('count with no logs key counts every record as log.record.count; a record without a grouping attribute and no default is not counted', async () => {
    const dir = tmp();
    const rrs = trafficSamples();
    writeFileSync(join(dir, 'in.jsonl'), rrs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await run(`
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false }
processors:
  transform:
    log_statements:
      - context: log
        statements:
          - set(attributes["svc"], body["service"]) where body["service"] != "jobs"
connectors:
  count: {}
  count/by-svc:
    logs:
      by_svc:
        conditions: ['body["status"] == "200"', 'body["status"] == "201"']
        attributes: [{ key: svc }, { key: team, default_value: unknown }]
exporters:
  metriccapture: { label: out }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [transform], exporters: [count, count/by-svc] }
    metrics: { receivers: [count, count/by-svc], exporters: [metriccapture] }
`);
    const sumOf = (name: string) => (metricSinks.get('out') ?? []).filter((p) => p.name === name).reduce((a, p) => a + (p as SumPoint).value, 0);
    await waitFor(() => sumOf('log.record.count') === rrs.length, { what: 'every record counted' });
    const ok = rrs.filter((r) => r.service !== 'jobs' && (r.status === '200' || r.status === '201'));
    await waitFor(() => sumOf('by_svc') === ok.length, { what: 'ok records of chat and files counted' });
    const bySvc = metricSinks.get('out')!.filter((p) => p.name === 'by_svc') as SumPoint[];
    expect(new Set(bySvc.map((p) => p.attributes.svc))).toEqual(new Set(['chat', 'files']));
    expect(bySvc.every((p) => p.attributes.team === 'unknown' && p.temporality === 'delta')).toBe(true);
    const first = metricSinks.get('out')!.find((p) => p.name === 'log.record.count')!;
    expect(first.description).toBe('The number of log records observed.');
  });
});

describe('pipeline signals are checked when the config loads', () => {
  const load = async (text: string) => loadConfig(['t.yaml'], { registry: await metricsTestRegistry(), texts: { 't.yaml': text } });
  it('refuses a logs-only processor in a metrics pipeline and a connector used in a direction it does not support', async () => {
    const err = await load(`
receivers: { file: { include: ["/nonexistent/*.jsonl"] } }
processors: { transform: { log_statements: [] } }
connectors: { count: {} }
exporters: { metriccapture: {}, debug: {} }
service:
  pipelines:
    logs: { receivers: [file], exporters: [count] }
    logs/2: { receivers: [count], exporters: [debug] }
    metrics: { receivers: [count], processors: [transform], exporters: [metriccapture] }
`).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/processor "transform" does not support metrics pipelines/);
    expect(err?.message).toMatch(/connector cannot link a logs pipeline \(logs\) to a logs pipeline \(logs\/2\)/);
  });
  it('refuses an unknown pipeline type and a metrics exporter in a logs pipeline', async () => {
    const err = await load(`
receivers: { file: { include: ["/nonexistent/*.jsonl"] } }
exporters: { metriccapture: {} }
service:
  pipelines:
    traces: { receivers: [file], exporters: [metriccapture] }
    logs: { receivers: [file], exporters: [metriccapture] }
`).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/pipeline type "traces" is not supported/);
    expect(err?.message).toMatch(/exporter "metriccapture" does not support logs pipelines/);
  });
});
