import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post } from './client.js';
import { counterValue, startService, type Running } from './harness.js';
import { freePort } from '../support/index.js';

describe('otlp/http: input that would be silently emptied or altered is refused and counted', () => {
  let svc: Running;
  let port: number;
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    port = await freePort();
    svc = await startService({ http: `endpoint: "127.0.0.1:${port}"` });
  });
  afterAll(async () => svc?.stop());

  it('{"resourceLogs":[[…]]} is a 400, not a 200 with nothing in it', async () => {
    for (const body of ['{"resourceLogs":[[{"scopeLogs":[]}]]}', '{"resourceLogs":[{"scopeLogs":[[]]}]}', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[[]]}]}]}']) {
      const r = await post(port, '/v1/logs', body, json);
      expect(r.status, body).toBe(400);
    }
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'malformed' })).toBe(3);
  });

  it('a JSON body that is not valid UTF-8 is a 400 (invalid_utf8), not replaced with U+FFFD', async () => {
    const body = Buffer.concat([Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"before-'), Buffer.from([0xff, 0xfe]), Buffer.from('-after"}}]}]}]}')]);
    const r = await post(port, '/v1/logs', body, json);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).message).toMatch(/UTF-8/);
    expect(await counterValue(svc.service, 'rrpipe_otlp_requests_refused_total', { reason: 'invalid_utf8' })).toBe(1);
    expect(svc.sink.records).toHaveLength(0);
  });
});
