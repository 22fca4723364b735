import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RrpipeProcess } from '../support/proc.js';
import { readJsonl, sampleFiles } from '../support/samples.js';
import { tmp } from '../support/tmp.js';

/** Every OTLP log record written by the file exporter (otlp_json: one ExportLogsServiceRequest per line). */
function written(dir: string): { resource: Record<string, unknown>; attributes: Record<string, unknown>; body: Record<string, unknown> }[] {
  const kv = (xs: { key: string; value: Record<string, unknown> }[] = []) =>
    Object.fromEntries(xs.map((x) => [x.key, x.value.stringValue ?? x.value.doubleValue ?? x.value.boolValue ?? x.value.intValue]));
  const out: ReturnType<typeof written> = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((n) => !n.endsWith('.partial'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)) {
      for (const rl of JSON.parse(line).resourceLogs) {
        for (const sl of rl.scopeLogs) {
          for (const lr of sl.logRecords) {
            const body = Object.fromEntries((lr.body.kvlistValue.values as { key: string; value: Record<string, unknown> }[]).map((x) => [x.key, x.value.stringValue ?? x.value.doubleValue ?? x.value]));
            out.push({ resource: kv(rl.resource.attributes), attributes: kv(lr.attributes), body });
          }
        }
      }
    }
  }
  return out;
}

describe('OTTL processors in a running rrpipe (file receiver → two pipelines → file exporters)', () => {
  it('the grafana chart’s two logs pipelines: labels on the resource, and body fields promoted then filtered to HTTP', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const pairs = sampleFiles().flatMap(readJsonl).map((rr, i) => (i % 3 === 2 ? { ...rr, l7protocol: 'grpc' } : rr));
    writeFileSync(join(dir, 'in/pairs.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    writeFileSync(join(dir, 'c.yaml'), `
receivers:
  file:
    include: ["${dir}/in/*.jsonl"]
    follow: false
processors:
  attributes/identity:
    actions:
      - { key: namespace, value: bank, action: insert }
  transform/loki-labels:
    log_statements:
      - context: log
        statements:
          - set(attributes["service"], body["service"])
          - set(resource.attributes["service"], attributes["service"])
          - set(resource.attributes["namespace"], attributes["namespace"])
  transform/rrpair-attrs:
    log_statements:
      - context: log
        statements:
          - set(attributes["svc"],         body["service"])
          - set(attributes["l7"],          body["l7protocol"])
          - set(attributes["duration_ms"], Double(body["duration"]))
  filter/http-only:
    error_mode: ignore
    logs:
      log_record:
        - 'attributes["l7"] != "http"'
exporters:
  file/labels: { layout: rrpipe, path: "${dir}/labels/out.jsonl", format: otlp_json, flush_interval: 0 }
  file/metrics: { layout: rrpipe, path: "${dir}/metrics/out.jsonl", format: otlp_json, flush_interval: 0 }
service:
  data_dir: ${dir}/state
  telemetry:
    metrics: { address: "127.0.0.1:0" }
  pipelines:
    logs:
      receivers: [file]
      processors: [attributes/identity, transform/loki-labels]
      exporters: [file/labels]
    logs/metrics:
      receivers: [file]
      processors: [transform/rrpair-attrs, filter/http-only]
      exporters: [file/metrics]
`);
    const p = new RrpipeProcess(['run', '--once', '-c', join(dir, 'c.yaml')]);
    expect(await p.exited).toBe(0);

    const labels = written(join(dir, 'labels'));
    expect(labels).toHaveLength(pairs.length);
    for (const r of labels) {
      expect(r.resource.service).toBe(r.body.service);
      expect(r.resource.namespace).toBe('bank');
      expect(r.attributes.svc).toBeUndefined(); // the other pipeline's transform did not touch these records
    }

    const metrics = written(join(dir, 'metrics'));
    const http = pairs.filter((x) => x.l7protocol === 'http');
    expect(metrics).toHaveLength(http.length);
    expect(metrics.length).toBeLessThan(pairs.length);
    for (const r of metrics) {
      expect(r.attributes.l7).toBe('http');
      expect(r.attributes.svc).toBe(r.body.service);
      expect(r.attributes.duration_ms).toBe(r.body.duration);
      expect(r.resource.namespace).toBeUndefined();
    }
  }, 60_000);
});
