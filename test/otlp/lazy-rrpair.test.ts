import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { cloneRecord, forgetRRPairJson, newRecord, rrpairField, rrpairJsonOf, rrpairUnread, withFields, withRRPairJson, type Attrs, type RRRecord } from '../../src/core/record.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createFileExporter, type FileExporterConfig } from '../../src/exporters/file/index.js';
import { SegmentQueue } from '../../src/extensions/file_storage/segment-queue.js';
import { BatchProcessor } from '../../src/processors/batch/index.js';
import { isRRPairBody, isRRPairJson, logsRequestToRecords, recordsToOtlpJson, type KeyValue } from '../../src/rrpair/otlp.js';
import { decodeLogsRequest, decodeLogsRequestReference, encodeLogsRequest } from '../../src/rrpair/otlp-proto.js';
import type { JsonBody } from '../../src/rrpair/otlp-wire.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { testHost, tmp } from '../support/index.js';
import { testRegistry } from '../support/capture.js';
import { SAMPLES } from './support.js';

const decoded = (bytes: Uint8Array) => logsRequestToRecords(decodeLogsRequest(bytes), { nonRRPair: 'keep' }).records;
const reference = (bytes: Uint8Array) => logsRequestToRecords(decodeLogsRequestReference(bytes), { nonRRPair: 'keep' }).records;

/** The samples as the forwarder sends them: identity fields "undefined" in the body, set as attributes. */
function forwarderRequest(attrs: Attrs = { service: 'svc', namespace: 'ns' }, n = SAMPLES.length): Uint8Array {
  const recs = SAMPLES.slice(0, n).map((rr) => newRecord(structuredClone(rr), { resource: { cluster: 'c1' }, attributes: attrs }));
  return encodeLogsRequest(recordsToOtlpJson(recs));
}

/** The JsonBody the protobuf reader makes of a request whose one log body is this kvlist. */
function jsonBodyOf(values: KeyValue[]): JsonBody | undefined {
  const doc = decodeLogsRequest(encodeLogsRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { kvlistValue: { values } } }] }] }] })) as {
    resourceLogs: { scopeLogs: { logRecords: { body: unknown }[] }[] }[];
  };
  const body = doc.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body as JsonBody | { plainValue: unknown };
  return 'spans' in body ? body : undefined;
}

describe('otlp: a record read from a protobuf kvlist body has its RRPair parsed only when read', () => {
  it('tells an RRPair from its top-level values exactly as isRRPairBody does from the parsed object', () => {
    const kinds: Record<string, unknown>[] = [
      { stringValue: 'rrpair' },
      { stringValue: 'rr"pair' },
      { stringValue: 'rrpair ' },
      { stringValue: '' },
      { doubleValue: 1 },
      { boolValue: true },
      { kvlistValue: { values: [{ key: 'a', value: { stringValue: 'b' } }] } },
      { kvlistValue: {} },
      { arrayValue: { values: [{ stringValue: 'x' }] } },
      {},
    ];
    const keys = ['msgType', 'ts', 'l7protocol', 'uuid', 'http'];
    let checked = 0;
    let rrpairs = 0;
    // Every key absent or given each kind, one key varied at a time over a base, then pairs.
    const bases: Record<string, number>[] = [{}, { ts: 0 }, { ts: 0, http: 6 }, { msgType: 4 }, { ts: 9, uuid: 0 }];
    for (const base of bases) {
      for (const k of keys) {
        for (let kind = -1; kind < kinds.length; kind++) {
          const pick = { ...base, [k]: kind };
          const values: KeyValue[] = [{ key: 'other', value: { stringValue: 'x' } }];
          for (const [key, i] of Object.entries(pick)) if (i >= 0) values.push({ key, value: kinds[i] as KeyValue['value'] });
          const jb = jsonBodyOf(values);
          expect(jb).toBeDefined();
          const want = isRRPairBody(JSON.parse(jb!.json.toString('utf8')));
          expect(isRRPairJson(jb!), JSON.stringify(pick)).toBe(want);
          checked++;
          if (want) rrpairs++;
        }
      }
    }
    for (const rr of SAMPLES) {
      const jb = jsonBodyOf(encodeLogsRequestValues(rr));
      expect(isRRPairJson(jb!)).toBe(isRRPairBody(rr));
      expect(isRRPairJson(jb!)).toBe(true);
      const { msgType: _m, ...noType } = rr;
      const jb2 = jsonBodyOf(encodeLogsRequestValues(noType));
      expect(isRRPairJson(jb2!)).toBe(isRRPairBody(noType));
    }
    expect(checked).toBeGreaterThan(200);
    expect(rrpairs).toBeGreaterThan(20);
    expect(checked - rrpairs).toBeGreaterThan(20);
  });

  it('writes long and short strings with any character at any byte alignment exactly as JSON.stringify does', () => {
    const specials = [...Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c)), 'é', '✓', '😀', '\u2028'];
    let n = 0;
    for (const len of [5, 63, 64, 65, 70, 131]) {
      for (let shift = 0; shift < 4; shift++) {
        for (const c of specials) {
          for (const at of [0, 1, 2, 3, len >> 1, len - 1]) {
            const filler = 'abcdefghij'.repeat(14).slice(0, len - 1);
            const str = filler.slice(0, at) + c + filler.slice(at);
            const key = 'k'.repeat(1 + shift);
            const jb = jsonBodyOf([{ key, value: { stringValue: str } }]);
            expect(jb!.json.toString('utf8')).toBe(JSON.stringify({ [key]: str }));
            n++;
          }
        }
      }
    }
    expect(n).toBeGreaterThan(10_000);
  });

  it('keeps every record of the samples unread, its identity fields, ts, direction and l7protocol known, and parses to what the object reader makes', () => {
    for (const attrs of [{ service: 'svc', namespace: 'ns' }, {}, { service: 'sérvice "✓"\n' }] as Attrs[]) {
      const bytes = forwarderRequest(attrs);
      const mine = decoded(bytes);
      const ref = reference(bytes);
      expect(mine).toHaveLength(SAMPLES.length);
      for (let i = 0; i < mine.length; i++) {
        const r = mine[i]!;
        expect(rrpairUnread(r)).toBe(true);
        for (const f of ['cluster', 'namespace', 'service', 'ts', 'direction', 'l7protocol']) expect(rrpairField(r, f)).toEqual(ref[i]!.rrpair[f]);
        expect(rrpairUnread(r)).toBe(true);
        expect(r.rrpair).toEqual(ref[i]!.rrpair);
        expect(rrpairUnread(r)).toBe(false);
        expect(rrpairJsonOf(r)?.toString()).toBe(JSON.stringify(ref[i]!.rrpair));
      }
    }
  });

  it('copies of an unread record (cloneRecord, spread, structuredClone, JSON, postMessage, the file_storage queue) hold the same RRPair', async () => {
    const bytes = forwarderRequest(undefined, 20);
    const want = reference(bytes).map((r) => r.rrpair);
    const fresh = () => decoded(bytes);

    const clones = fresh().map(cloneRecord);
    expect(clones.every(rrpairUnread)).toBe(true);
    expect(clones.map((c) => rrpairJsonOf(c)?.toString())).toEqual(want.map((rr) => JSON.stringify(rr)));
    expect(clones.map((c) => c.rrpair)).toEqual(want);

    const a = fresh();
    const spreads = a.map((r) => ({ ...r }));
    expect(spreads.map((s) => Object.getOwnPropertyDescriptor(s, 'rrpair')?.value)).toEqual(want);
    expect(spreads.map((s) => Object.keys(s)[0])).toEqual(spreads.map(() => 'rrpair'));
    expect(a.every((r) => !rrpairUnread(r))).toBe(true);

    expect(fresh().map((r) => structuredClone(r).rrpair)).toEqual(want);
    expect(fresh().map((r) => JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).rrpair)).toEqual(want);

    const { port1, port2 } = new MessageChannel();
    const got = new Promise<RRRecord[]>((res) => port2.once('message', res));
    port1.postMessage(fresh());
    expect((await got).map((r) => r.rrpair)).toEqual(want);
    port1.close();

    const qdir = tmp('rrpipe-lazy-q-');
    const qopts = { dir: qdir, capacity: 1000, sizer: 'items' as const, block: false, maxBytes: 1 << 26, segmentBytes: 1 << 20, fsync: 'write' as const, fsyncIntervalMs: 50 };
    const q = await SegmentQueue.open(qopts);
    await q.offer(fresh());
    await q.dispose();
    const q2 = await SegmentQueue.open(qopts);
    const item = await q2.take();
    expect(item!.batch.map((r) => r.rrpair)).toEqual(want);
    await q2.dispose();
  });

  it('an assignment replaces the RRPair and its JSON; a change after forgetRRPairJson drops the JSON once read', () => {
    const bytes = forwarderRequest(undefined, 3);
    const [r1, r2, r3] = decoded(bytes);
    const other = { msgType: 'rrpair', ts: '2025-01-01T00:00:00Z', service: 'other' } as RRPair;
    r1!.rrpair = other;
    expect(r1!.rrpair).toBe(other);
    expect(rrpairUnread(r1!)).toBe(false);
    expect(rrpairJsonOf(r1!)).toBeUndefined();
    expect(rrpairField(r1!, 'service')).toBe('other');
    expect(Object.keys(r1!)[0]).toBe('rrpair');

    // Forgotten while unread: the JSON stays true until someone reads (and may change) the RRPair.
    forgetRRPairJson([r2!, r3!]);
    expect(rrpairJsonOf(r2!)).toBeDefined();
    r2!.rrpair.service = 'changed';
    expect(rrpairJsonOf(r2!)).toBeUndefined();
    expect(r2!.rrpair.service).toBe('changed');
    expect(rrpairField(r2!, 'service')).toBe('changed');
    expect(rrpairJsonOf(r3!)?.toString()).toBe(JSON.stringify(reference(bytes)[2]!.rrpair));
  });
});

describe('copies that keep the RRPair JSON (withFields, withRRPairJson)', () => {
  it('withFields keeps the JSON of an unread or unchanged record, and never of a changed one', () => {
    const bytes = forwarderRequest(undefined, 4);
    const [unread, read, changed, forgotten] = decoded(bytes);
    const want = reference(bytes).map((r) => r.rrpair);

    const doc = { service: 'svc' } as unknown as RRRecord['index'];
    const a = withFields(unread!, { index: doc });
    expect(rrpairUnread(a)).toBe(true);
    expect(rrpairJsonOf(a)).toBe(rrpairJsonOf(unread!));
    expect(rrpairField(a, 'service')).toBe('svc');
    expect([a.index, unread!.index]).toEqual([doc, undefined]);
    expect([a.resource, a.attributes, a.observedNs]).toEqual([unread!.resource, unread!.attributes, unread!.observedNs]);
    expect(a.rrpair).toEqual(want[0]);
    expect(rrpairUnread(unread!)).toBe(true);

    const rr = read!.rrpair;
    const b = withFields(read!, { location: 'file:///x' });
    expect(b.rrpair).toBe(rr); // shared, as a spread shares it
    expect(rrpairJsonOf(b)).toBe(rrpairJsonOf(read!));
    expect(b.location).toBe('file:///x');

    forgetRRPairJson([changed!]);
    changed!.rrpair.service = 'changed';
    const c = withFields(changed!, { location: 'file:///y' });
    expect(rrpairJsonOf(c)).toBeUndefined();
    expect(c.rrpair.service).toBe('changed');

    // Forgotten while unread: the copy too drops the JSON once its RRPair is read (and may change).
    forgetRRPairJson([forgotten!]);
    const d = withFields(forgotten!, {});
    expect(rrpairJsonOf(d)).toBeDefined();
    d.rrpair.service = 'changed';
    expect(rrpairJsonOf(d)).toBeUndefined();
  });

  it('withRRPairJson gives the record a new RRPair, unread, and keeps its other fields', () => {
    const [r] = decoded(forwarderRequest(undefined, 1));
    const other = { msgType: 'rrpair', ts: '2025-01-01T00:00:00Z', service: 'other', note: 'é ✓ 😀' };
    const json = Buffer.from(JSON.stringify(other));
    const n = withRRPairJson(r!, json);
    expect(rrpairUnread(n)).toBe(true);
    expect(rrpairJsonOf(n)).toBe(json);
    expect([n.resource, n.attributes, n.observedNs]).toEqual([r!.resource, r!.attributes, r!.observedNs]);
    expect(n.rrpair).toEqual(other);
    expect(rrpairJsonOf(n)).toBe(json); // read and unchanged: still its JSON
  });

  it('withRRPairJson keeps the values known without parsing only when told which top-level values changed, and not those', () => {
    const [r] = decoded(forwarderRequest(undefined, 1));
    const was = structuredClone(decoded(forwarderRequest(undefined, 1))[0]!.rrpair);
    const edited = { ...was, service: 'renamed', dlpModified: true };
    const json = Buffer.from(JSON.stringify(edited));
    const kept = withRRPairJson(r!, json, ['service', 'dlpModified']);
    // answered from what the record knew, without parsing
    expect([rrpairField(kept, 'namespace'), rrpairField(kept, 'l7protocol'), rrpairField(kept, 'ts')]).toEqual([was.namespace, was.l7protocol, was.ts]);
    expect(rrpairUnread(kept)).toBe(true);
    // a changed value is read from the new JSON
    expect(rrpairField(kept, 'service')).toBe('renamed');
    expect(rrpairUnread(kept)).toBe(false);
    // without `changed`, nothing is taken as known: the new JSON answers
    const bare = withRRPairJson(decoded(forwarderRequest(undefined, 1))[0]!, Buffer.from(JSON.stringify({ ...was, namespace: 'other' })));
    expect(rrpairField(bare, 'namespace')).toBe('other');
  });
});

describe('batch → file (layout rrpipe) behind the otlp mapping', () => {
  it('names files from identity fields filled in from attributes and writes the lines, without parsing any RRPair', async () => {
    const dir = tmp('rrpipe-lazy-file-');
    const yaml = `receivers: { file: { include: [x] } }
exporters:
  file: { path: "${dir}/out/{cluster}/{namespace}/{service}-{l7protocol}-%Y.jsonl", layout: rrpipe }
service: { pipelines: { logs: { receivers: [file], exporters: [file] } } }`;
    const cfg = await loadConfig(['c.yaml'], { registry: await testRegistry(), texts: { 'c.yaml': yaml }, env: {} });
    const config = cfg.components.exporters.get('file')!.config as unknown as FileExporterConfig;
    const t = new Telemetry({ processMetrics: false });
    const file = createFileExporter({ id: 'file', kind: 'exporter', config, logger: silentLogger(), metrics: t.forComponent('file', 'exporter'), configDir: '.' });
    await file.start(testHost(join(dir, 'state')));
    const batch = new BatchProcessor({ send_batch_size: 8192, send_batch_max_size: 0, send_batch_bytes: 0, timeout: 20, max_in_flight: 4, flush_when_idle: 0, flush_when_senders_wait: false }, file);

    const sent: RRRecord[] = [];
    for (const service of ['a', 'b']) {
      const recs = decoded(forwarderRequest({ service, namespace: 'ns' }));
      sent.push(...recs);
      await batch.consume(recs, {});
    }
    await batch.shutdown();
    await file.shutdown(AbortSignal.timeout(10_000));
    expect(sent.every(rrpairUnread)).toBe(true);

    const got = new Map<string, string[]>();
    for (const f of readdirSync(join(dir, 'out'), { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'))) {
      const key = relative(join(dir, 'out'), join(dir, 'out', f)).replace(/-\d{8}T.*$/, '');
      got.set(key, [...(got.get(key) ?? []), ...readFileSync(join(dir, 'out', f), 'utf8').split('\n').filter(Boolean)]);
    }
    const want = new Map<string, string[]>();
    for (const service of ['a', 'b']) {
      for (const r of reference(forwarderRequest({ service, namespace: 'ns' }))) {
        const rr = r.rrpair;
        const key = `c1/ns/${service}-${(rr.l7protocol as string | undefined) ?? 'unknown'}-${new Date(Date.parse(rr.ts!)).getUTCFullYear()}`;
        want.set(key, [...(want.get(key) ?? []), JSON.stringify(rr)]);
      }
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, lines] of want) expect(got.get(k)).toEqual(lines);
  });
});

/** An RRPair as the KeyValues of a kvlist body (what recordsToOtlpJson puts in a LogRecord body). */
function encodeLogsRequestValues(rr: Record<string, unknown>): KeyValue[] {
  const doc = recordsToOtlpJson([newRecord(rr as RRPair)]) as { resourceLogs: { scopeLogs: { logRecords: { body: { kvlistValue: { values: KeyValue[] } } }[] }[] }[] };
  return doc.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body.kvlistValue.values;
}
