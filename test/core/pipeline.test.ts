import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/service.js';
import { silentLogger } from '../../src/core/logger.js';
import { failures, sinks, testRegistry } from '../support/capture.js';
import { generate, tmp, waitFor } from '../support/index.js';

const running: Service[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
  sinks.clear();
  failures.clear();
});

async function start(yaml: string, opts: { oneShot?: boolean } = {}): Promise<Service> {
  const s = new Service({ files: ['t.yaml'], texts: { 't.yaml': yaml }, registry: await testRegistry(), logger: silentLogger(), oneShot: opts.oneShot });
  await s.start();
  running.push(s);
  return s;
}

function inbox(n: number, opts: Parameters<typeof generate>[1] = {}): string {
  const dir = tmp();
  writeFileSync(join(dir, 'in.jsonl'), generate(n, opts).map((r) => JSON.stringify(r)).join('\n') + '\n');
  return dir;
}

describe('pipeline graph', () => {
  it('one receiver into two pipelines: a processor in one never changes the other pipeline\'s records', async () => {
    const dir = inbox(50);
    await start(`
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false }
processors:
  stamp: { value: changed, delay_ms: 5 }
exporters:
  capture/a: { label: a }
  capture/b: { label: b }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs/a: { receivers: [file], processors: [stamp], exporters: [capture/a] }
    logs/b: { receivers: [file], exporters: [capture/b] }
`);
    await waitFor(() => sinks.get('a')?.length === 50 && sinks.get('b')?.length === 50, { what: '50 records in each sink' });
    expect(sinks.get('a')!.every((r) => r.rrpair.service === 'changed')).toBe(true);
    expect(sinks.get('b')!.every((r) => r.rrpair.service === 'undefined')).toBe(true);
  });

  it('several receivers into one pipeline, several exporters out of it', async () => {
    const d1 = inbox(10);
    const d2 = inbox(7, { start: Date.parse('2025-04-01T00:00:00Z') });
    await start(`
receivers:
  file/one: { include: ["${d1}/*.jsonl"], follow: false }
  file/two: { include: ["${d2}/*.jsonl"], follow: false }
exporters:
  capture/x: { label: x }
  capture/y: { label: y }
service:
  data_dir: ${d1}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file/one, file/two], exporters: [capture/x, capture/y] }
`);
    await waitFor(() => sinks.get('x')?.length === 17 && sinks.get('y')?.length === 17, { what: '17 records in each sink' });
  });

  it('a refusing exporter pushes back to the receiver, which retries until accepted: nothing lost', async () => {
    const dir = inbox(30);
    failures.set('flaky', 3);
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false, batch_size: 10 }
processors:
  batch: { send_batch_size: 10, timeout: 10ms }
exporters:
  capture: { label: flaky }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], processors: [batch], exporters: [capture] }
`);
    await waitFor(() => sinks.get('flaky')?.length === 30, { what: 'all 30 records', timeoutMs: 30_000 });
    expect(failures.get('flaky')).toBe(0);
    expect(new Set(sinks.get('flaky')!.map((r) => r.rrpair.uuid)).size).toBe(30);
    expect(await s.telemetry.total('refused', { component: 'file' })).toBeGreaterThanOrEqual(3);
    expect(await s.telemetry.total('accepted', { component: 'file' })).toBe(30);
  });

  it('one-shot: receiversDone resolves once finite receivers delivered everything', async () => {
    const dir = inbox(25);
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.jsonl"], follow: false }
exporters:
  capture: { label: once }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
`, { oneShot: true });
    expect(s.hasFiniteReceivers()).toBe(true);
    await s.receiversDone();
    expect(sinks.get('once')).toHaveLength(25);
  });

  it('the health status is running only while every pipeline is', async () => {
    const dir = inbox(1);
    const s = await start(`
receivers:
  file: { include: ["${dir}/*.jsonl"] }
exporters:
  capture: { label: h }
service:
  data_dir: ${dir}/state
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [file], exporters: [capture] }
`);
    expect(s.host!.status().running).toBe(true);
    expect(s.host!.status().pipelines).toEqual({ logs: 'ok' });
    await s.shutdown();
    running.pop();
    expect(s.host!.status().running).toBe(false);
  });
});
