import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmp } from '../support/index.js';

// A one-shot command (rehydrate) next to a running `rrpipe run` (npm start) finds the metrics
// port taken: the error must say it is the metrics listener and which key moves it.

let taken: Server;
let port: number;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  port = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => taken.close(() => r())));

function config(dir: string, receiver: string, metrics: string): string {
  const f = join(dir, 'c.yaml');
  writeFileSync(f, `
receivers:
  ${receiver}
exporters:
  debug: {}
service:
  data_dir: ${dir}/state
  telemetry: { metrics: ${metrics} }
  pipelines:
    logs: { receivers: [${receiver.split(':')[0]}], exporters: [debug] }
`);
  return f;
}

describe('the metrics port is taken', () => {
  it('rrpipe rehydrate names the metrics listener, its address and service.telemetry.metrics.address', async () => {
    const dir = tmp('rrpipe-metrics-port-');
    mkdirSync(join(dir, 'archive'));
    const r = await runCli(['rehydrate', '-c', config(dir, `rehydrate: { from: ${dir}/archive, start: -1h }`, `{ address: "127.0.0.1:${port}" }`), '--start', '-2h', '--end', '-1h']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`rrpipe rehydrate: failed to start: the metrics listener \\(service\\.telemetry\\.metrics\\.address\\) cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    expect(r.stderr).toMatch(/service\.telemetry\.metrics\.level: none/);
  });

  it('rrpipe run says the same, naming the readers when a prometheus pull reader sets the port', async () => {
    const dir = tmp('rrpipe-metrics-port-');
    mkdirSync(join(dir, 'in'));
    const address = await runCli(['run', '--once', '-c', config(dir, `file: { include: ["${dir}/in/*.jsonl"], follow: false }`, `{ address: "127.0.0.1:${port}" }`)]);
    expect(address.code).toBe(1);
    expect(address.stderr).toMatch(new RegExp(`rrpipe: failed to start: the metrics listener \\(service\\.telemetry\\.metrics\\.address\\) cannot listen on 127\\.0\\.0\\.1:${port}`));
    const reader = await runCli(['run', '--once', '-c', config(dir, `file: { include: ["${dir}/in/*.jsonl"], follow: false }`, `{ readers: [ { pull: { exporter: { prometheus: { host: 127.0.0.1, port: ${port} } } } } ] }`)]);
    expect(reader.code).toBe(1);
    expect(reader.stderr).toMatch(/the metrics listener \(service\.telemetry\.metrics\.readers \(pull\/prometheus host and port\)\) cannot listen/);
  });
});
