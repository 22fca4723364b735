import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BackpressureError, RetryableError } from '../../src/core/errors.js';
import { newRecord, rrpairField, rrpairJsonOf, rrpairUnread, withRRPairJson, type RecordBatch } from '../../src/core/record.js';
import { poolSize } from '../../src/helpers/worker-pool.js';
import { factory, type RedactionProcessor } from '../../src/processors/redaction/index.js';
import { logsRequestToRecords, recordsToOtlpJson } from '../../src/rrpair/otlp.js';
import { decodeLogsRequest, encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { post } from '../otlp/client.js';
import { startService } from '../otlp/harness.js';
import { freePort, requireBuild } from '../support/index.js';
import { allSamples, b64, makeProcessor, rec } from './helpers.js';

const SECRET = 'pool-test-secret';
const samples = allSamples();

let open: RedactionProcessor[] = [];
async function redaction(cfg: Record<string, unknown> = {}) {
  const made = await makeProcessor(factory, { secret: SECRET, summary_attribute: 'redaction', ...cfg });
  open.push(made.proc as RedactionProcessor);
  return { ...made, proc: made.proc as RedactionProcessor };
}
/** Records whose RRPair says which batch and position they came from. */
function tagged(batch: number, n: number) {
  return Array.from({ length: n }, (_, i) => rec({ ...structuredClone(samples[(batch * 7 + i) % samples.length]!), uuid: `${batch}-${i}` }));
}
const uuids = (b: RecordBatch) => b.map((r) => r.rrpair.uuid);

beforeAll(() => requireBuild()); // the workers run the processor's build in dist/
afterEach(async () => {
  await Promise.all(open.map((p) => p.shutdown()));
  open = [];
});

describe('redaction with workers', () => {
  it('gives the same records, attributes and counts as inline redaction over the samples and malformed input', async () => {
    const odd = [{}, { http: null }, { http: { req: { headers: 'h', uri: 5 }, res: { headers: { A: [1, null, 'a@b.io'] } } } }, { signature: 7, tokenList: [null, 'Bearer abcdefgh'], tags: { t: 'jane@example.com' } }, { http: { req: { headers: { 'Content-Type': ['text/plain'] }, bodyBase64: '%%%not base64' } } }] as unknown as RRPair[];
    const input = () => [...samples, ...odd].map((s) => rec(structuredClone(s), { sizeHint: 100 }));
    const inline = await redaction({ workers: 0 });
    const pooled = await redaction({ workers: 2 });
    expect(pooled.proc.pool!.size).toBe(2);
    await inline.proc.consume([...input(), { rrpair: null } as never], {});
    await pooled.proc.consume([...input(), { rrpair: null } as never], {});
    expect(pooled.sink.records.length).toBe(samples.length + odd.length);
    expect(pooled.sink.records).toEqual(inline.sink.records);
    expect(pooled.sink.records.filter((r) => r.rrpair.dlpModified).length).toBeGreaterThan(0);
    const counts = (t: string) => t.split('\n').filter((l) => /^rrpipe_(redaction_|processor_dropped)/.test(l)).sort();
    expect(counts(await pooled.telemetry.text())).toEqual(counts(await inline.telemetry.text()));
    expect(await pooled.telemetry.total('dropped', { reason: 'redaction_failed' })).toBe(1);
  });

  it('keeps the order of batches across 2 workers when a big batch is followed by small ones', async () => {
    const { proc, sink } = await redaction({ workers: 2 });
    const sizes = [400, 1, 2, 300, 1, 1];
    await Promise.all(sizes.map((n, b) => proc.consume(tagged(b, n), {})));
    expect(sink.batches.map(uuids)).toEqual(sizes.map((n, b) => uuids(tagged(b, n))));
  });

  it('resolves consume only once the next stage accepted the batch, and passes a refusal back to the caller', async () => {
    const { proc, sink } = await redaction({ workers: 2 });
    let accept!: () => void;
    const accepted: string[][] = [];
    sink.consume = async (batch) => {
      if (batch[0]!.rrpair.uuid === '1-0') throw new BackpressureError('queue full');
      if (batch[0]!.rrpair.uuid === '0-0') await new Promise<void>((r) => (accept = r));
      accepted.push(uuids(batch) as string[]);
    };
    let firstDone = false;
    const first = proc.consume(tagged(0, 3), {}).then(() => (firstDone = true));
    const refused = proc.consume(tagged(1, 3), {});
    await expect(refused).rejects.toBeInstanceOf(BackpressureError);
    expect(firstDone).toBe(false); // the next stage has not accepted it yet
    expect(accepted).toEqual([]);
    accept();
    await first;
    expect(accepted).toEqual([['0-0', '0-1', '0-2']]);
  });

  it('a worker that dies mid-batch: the batch is redacted again in a worker of its own and handed on whole; the pool\'s worker is replaced', async () => {
    const { proc, sink, telemetry } = await redaction({ workers: 1 });
    const batch = tagged(0, 300);
    const pending = proc.consume(batch, {});
    const first = proc.pool!.threads[0]!;
    void first.terminate(); // the batch was just posted; redacting 300 records takes far longer than this call
    await pending;
    expect(proc.pool!.crashes).toBe(1);
    expect(uuids(sink.records)).toEqual(uuids(tagged(0, 300)));
    expect(sink.records.some((r) => r.rrpair.dlpModified)).toBe(true);
    expect(await telemetry.total('dropped', { reason: 'redaction_failed' })).toBe(0);
    await proc.consume(tagged(1, 5), {});
    expect(proc.pool!.threads[0]!.threadId).not.toBe(first.threadId);
    expect(uuids(sink.records.slice(300))).toEqual(uuids(tagged(1, 5)));
  });

  it('shutdown drains the batches in flight into the next stage', async () => {
    const { proc, sink } = await redaction({ workers: 2 });
    const sent = [0, 1, 2, 3].map((b) => proc.consume(tagged(b, 50), {}));
    await proc.shutdown();
    await Promise.all(sent);
    expect(sink.batches.map(uuids)).toEqual([0, 1, 2, 3].map((b) => uuids(tagged(b, 50))));
    await expect(proc.consume(tagged(9, 1), {})).rejects.toBeInstanceOf(RetryableError);
  });

  it('defaults to workers: auto, started with the first batch; 0 and gunzip_thread redact inline; a negative count is refused', async () => {
    const { proc, sink } = await redaction();
    expect(proc.pool?.size ?? 0).toBe(poolSize('auto'));
    if (proc.pool) {
      await proc.start();
      expect(proc.pool.threads).toHaveLength(0); // none yet: a daemon that has not redacted stays as small as without them
      await proc.consume(tagged(0, 5), {});
      expect(proc.pool.threads).toHaveLength(1);
      expect(sink.records.every((r) => r.rrpair.dlpModified)).toBe(true);
    }
    const explicit = await redaction({ workers: 1 });
    await explicit.proc.start();
    expect(explicit.proc.pool!.threads).toHaveLength(1); // a number starts them at once, so a broken build fails the start
    expect((await redaction({ workers: 0 })).proc.pool).toBeUndefined();
    expect((await redaction({ gunzip_thread: true })).proc.pool).toBeUndefined();
    await expect(redaction({ workers: -1 })).rejects.toThrow(/workers/);
  });

  it('sends the JSON a record arrived with and hands on the JSON the worker wrote, so no RRPair is parsed or stringified on the event loop', async () => {
    const { proc, sink } = await redaction({ workers: 1 });
    const arrived = samples.slice(0, 20).map((s) => withRRPairJson(rec({}), Buffer.from(JSON.stringify(s))));
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      await proc.consume(arrived, {});
      expect([parse.mock.calls.length, stringify.mock.calls.length]).toEqual([0, 0]);
    } finally {
      parse.mockRestore();
      stringify.mockRestore();
    }
    expect(sink.records.map(rrpairUnread)).toEqual(arrived.map(() => true));
    const inline = await redaction({ workers: 0 });
    await inline.proc.consume(samples.slice(0, 20).map((s) => rec(structuredClone(s))), {});
    expect(sink.records.map((r) => rrpairJsonOf(r)!.toString())).toEqual(inline.sink.records.map((r) => JSON.stringify(r.rrpair)));
  });

  it('a record read from OTLP protobuf keeps what it knew without parsing (identity fields, ts, protocol) through the workers', async () => {
    const { proc, sink } = await redaction({ workers: 1 });
    const request = () => encodeLogsRequest(recordsToOtlpJson(samples.map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: { service: 'svc', namespace: 'ns' } }))));
    const decode = () => logsRequestToRecords(decodeLogsRequest(request()), { nonRRPair: 'keep' }).records;
    await proc.consume(decode(), {});
    const changed = sink.records.filter((r) => rrpairJsonOf(r) && !rrpairJsonOf(decode()[sink.records.indexOf(r)]!)!.equals(rrpairJsonOf(r)!));
    expect(changed.length).toBeGreaterThan(10);
    const keys = ['cluster', 'namespace', 'service', 'ts', 'direction', 'l7protocol'];
    const answers = changed.map((r) => keys.map((k) => rrpairField(r, k)));
    expect(changed.every(rrpairUnread)).toBe(true); // answered without parsing
    expect(answers).toEqual(changed.map((r) => keys.map((k) => (r.rrpair as Record<string, unknown>)[k])));
    expect(answers.every(([cluster, ns, service]) => cluster === 'c1' && ns === 'ns' && service === 'svc')).toBe(true);
  });

  it('redacts a record whose RRPair is not JSON (a BigInt) on the event loop instead of dropping it', async () => {
    const { proc, sink } = await redaction({ workers: 1 });
    const rr = { big: 1n, http: { req: { headers: { Authorization: ['Bearer abcdefgh12345'] }, bodyBase64: b64('x') } } } as unknown as RRPair;
    await proc.consume([rec(rr)], {});
    expect(sink.records[0]!.rrpair.http!.req!.headers!.Authorization![0]).toMatch(/^Bearer REDACTED-AUTHORIZATION-/);
  });
});

describe('redaction with workers in a running service (OTLP/HTTP → redaction → exporter with a one-batch queue)', () => {
  const chunks = Array.from({ length: Math.ceil(samples.length / 30) }, (_, i) => Buffer.from(encodeLogsRequest(recordsToOtlpJson(samples.slice(i * 30, i * 30 + 30).map((rr) => newRecord(structuredClone(rr)))))));

  /** Sends every chunk, retrying on 429/503 as an OTLP client does; `onRefused` sees each refusal. */
  async function sendAll(port: number, onRefused: (status: number) => void = () => {}) {
    for (const chunk of chunks) {
      for (;;) {
        const res = await post(port, '/v1/logs', chunk, { 'content-type': 'application/x-protobuf' });
        if (res.status === 200) break;
        expect([429, 503]).toContain(res.status);
        onRefused(res.status);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  async function run(workers: number, stallUntilRefused: boolean) {
    const port = await freePort();
    const svc = await startService({
      http: `endpoint: "127.0.0.1:${port}"`,
      processors: { redaction: `secret: ${SECRET}, workers: ${workers}` },
      capture: 'sending_queue: { queue_size: 1, num_consumers: 1, block_on_overflow: false }',
    });
    try {
      const refusals: number[] = [];
      if (stallUntilRefused) svc.sink.stall();
      await sendAll(port, (status) => {
        refusals.push(status);
        if (refusals.length === 2) svc.sink.release();
      });
      await svc.sink.waitFor(samples.length);
      return { records: new Map(svc.sink.records.map((r) => [String(r.rrpair.uuid), r.rrpair])), delivered: svc.sink.records.length, refusals };
    } finally {
      await svc.stop();
    }
  }

  it('a full queue behind the pool reaches the client as 429; after retries every record arrives once, redacted as inline', async () => {
    const pooled = await run(2, true);
    expect(pooled.refusals.length).toBeGreaterThanOrEqual(2);
    expect(pooled.refusals.every((s) => s === 429)).toBe(true);
    expect(pooled.delivered).toBe(samples.length);
    expect(new Set(pooled.records.keys())).toEqual(new Set(samples.map((s) => String(s.uuid))));
    const inline = await run(0, false);
    expect(inline.refusals).toEqual([]);
    expect(pooled.records).toEqual(inline.records);
    expect([...pooled.records.values()].filter((rr) => rr.dlpModified).length).toBeGreaterThan(0);
  });
});
