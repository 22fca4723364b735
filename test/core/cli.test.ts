import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCommand } from '../../src/cli/commands/index.js';
import { runCli, tmp } from '../support/index.js';

describe('rrpipe CLI', () => {
  it('validate exits 0 for the embedded default and every shipped config', async () => {
    const r = await runCli(['validate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/default.yaml: valid \(2 pipelines\)/);
  });

  it('validate prints every error with file:line:column and exits 1', async () => {
    const dir = tmp();
    const f = join(dir, 'broken.yaml');
    writeFileSync(f, `receivers:
  file:
    include: [x]
    bogus: true
exporters:
  debug:
    verbosity: loud
service:
  pipelines:
    logs: { receivers: [file], exporters: [debug, nope] }
`);
    const r = await runCli(['validate', '-c', f]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${f}:4:5: receivers.file: unknown key "bogus"`);
    expect(lines).toContain(`${f}:7:16: exporters.debug: "verbosity" must be one of "basic", "normal", "detailed"`);
    expect(lines).toContain(`${f}:10:${"    logs: { receivers: [file], exporters: [debug, nope] }".indexOf("nope") + 1}: service.pipelines.logs: exporter "nope" is not defined under exporters or connectors`);
    expect(lines[lines.length - 1]).toBe('3 errors');
  });

  it('components lists each built-in with kind, stability and a line of description', async () => {
    const r = await runCli(['components']);
    expect(r.code).toBe(0);
    const rows = r.stdout.split('\n');
    expect(rows[0]).toMatch(/^KIND\s+TYPE\s+STABILITY\s+DESCRIPTION$/);
    for (const [kind, type] of [['receiver', 'file'], ['processor', 'batch'], ['exporter', 'file'], ['exporter', 'debug'], ['extension', 'health_check']]) {
      expect(rows.some((row) => new RegExp(`^${kind}\\s+${type}\\b.*\\s(development|alpha|beta|stable)\\s+\\S`).test(row))).toBe(true);
    }
  });

  it('print-config shows the resolved config with secrets masked', async () => {
    const dir = tmp();
    const f = join(dir, 'c.yaml');
    writeFileSync(f, `receivers:
  file: { include: ["\${env:INBOX}/*.jsonl"] }
exporters:
  debug:
extensions:
  bearertokenauth: { tokens: [first-token-value, second-token-value] }
service:
  telemetry:
    resource:
      api_token: abc
      password: hunter2
      region: eu
  pipelines:
    logs: { receivers: [file], exporters: [debug] }
`);
    const r = await runCli(['print-config', '-c', f, '--json'], { INBOX: '/in' });
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout);
    expect(cfg.receivers.file.include).toEqual(['/in/*.jsonl']);
    expect(cfg.receivers.file.poll_interval).toBe(200);
    expect(cfg.service.telemetry.resource).toEqual({ api_token: '[REDACTED]', password: '[REDACTED]', region: 'eu' });
    expect(r.stdout).not.toContain('hunter2');
    expect(cfg.extensions.bearertokenauth.tokens).toEqual(['[REDACTED]', '[REDACTED]']);
    expect(r.stdout).not.toMatch(/first-token-value|second-token-value/);
  });

  it('print-config masks the password of every URL (user kept) and leaves switches named like secrets readable', async () => {
    const dir = tmp();
    const f = join(dir, 'c.yaml');
    writeFileSync(f, `receivers:
  file: { include: ["/in/*.jsonl"] }
processors:
  redaction: { secret: "\${env:RSECRET}", detectors: { private_key: true, aws_access_key: false } }
exporters:
  redis: { endpoint: "redis://:\${env:REDISPW}@127.0.0.1:6379" }
  otlphttp: { endpoint: "http://ingest:p@ss:word@127.0.0.1:4318/v1" }
service:
  pipelines:
    logs: { receivers: [file], processors: [redaction], exporters: [redis, otlphttp] }
`);
    const r = await runCli(['print-config', '-c', f, '--json'], { REDISPW: 'redis-pw-9f3', RSECRET: 'redaction-secret-77' });
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(r.stdout);
    expect(cfg.exporters.redis.endpoint).toBe('redis://:[REDACTED]@127.0.0.1:6379');
    expect(cfg.exporters.otlphttp.endpoint).toBe('http://ingest:[REDACTED]@127.0.0.1:4318/v1');
    expect(cfg.processors.redaction.detectors).toMatchObject({ private_key: true, aws_access_key: false });
    expect(cfg.processors.redaction.secret).toBe('[REDACTED]');
    expect(r.stdout).not.toMatch(/redis-pw-9f3|redaction-secret-77|p@ss|word@/);
  });

  it('an unknown command says so and exits 2', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('--help lists every command, each loaded from the module listed under its name', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((m) => m[1]!);
    expect(listed).toEqual(expect.arrayContaining(['run', 'validate', 'components', 'query', 'snapshot', 'ca']));
    for (const name of listed) expect((await loadCommand(name))?.name).toBe(name);
    expect(await loadCommand('frobnicate')).toBeUndefined();
  });
});
