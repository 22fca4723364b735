import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TArray, TString } from '@sinclair/typebox';
import type { Consumer, CreateSettings, FiniteReceiver, Host, ReceiverFactory } from '../../core/component.js';
import { errorMessage, isRetryable } from '../../core/errors.js';
import type { RRRecord } from '../../core/record.js';
import { address, bool, duration, int, obj, oneOf, secret, str, strings, type Config } from '../../config/fragments.js';
import { Backoff, sleep } from '../../helpers/backoff.js';
import { Checkpoint } from '../../layouts/checkpoint.js';
import { compileFilter, exactServices, FILTER_FIELDS, type FilterField } from '../../layouts/filter.js';
import { LAYOUTS } from '../../layouts/layout.js';
import { eachLimit, isCorruption, listWindow, readObject, resolveLayout, type ObjectProblem } from '../../layouts/reader.js';
import type { ObjectInfo, ObjectStore } from '../../layouts/store.js';
import { openLocation } from '../../layouts/uri.js';
import { AZURE_TOKEN_AUTH_TYPES, azureTokenAuthProperties } from '../../helpers/azure-credential.js';
import { parseTime } from '../../layouts/window.js';

/** Progress of a rehydration (also in metrics), for the CLI's progress bar and tests. */
export interface RehydrateProgress {
  id: string;
  objectsTotal: number;
  objectsDone: number;
  bytesTotal: number;
  bytesDone: number;
  records: number;
  outside: number;
  filtered: number;
  badLines: number;
  badObjects: number;
  problems: ObjectProblem[];
  startedAt: number;
  finished: boolean;
  error?: string;
}

/** Rehydrations running in this process (the CLI reads their progress). */
export const activeRehydrations = new Set<RehydrateProgress>();

const MAX_PROBLEMS = 1000;

class RehydrateReceiver implements FiniteReceiver {
  private readonly stop = new AbortController();
  private finished!: Promise<void>;
  private resolveDone!: () => void;
  private readonly donePromise = new Promise<void>((r) => (this.resolveDone = r));
  private store?: ObjectStore;
  readonly progress: RehydrateProgress;
  private readonly m;

  constructor(private readonly s: CreateSettings<RehydrateConfig>, private readonly next: Consumer) {
    this.progress = { id: s.id, objectsTotal: 0, objectsDone: 0, bytesTotal: 0, bytesDone: 0, records: 0, outside: 0, filtered: 0, badLines: 0, badObjects: 0, problems: [], startedAt: Date.now(), finished: false };
    const mm = s.metrics;
    this.m = {
      objectsTotal: mm.gauge('rehydrate_objects', 'Objects in the rehydration window.'),
      objectsDone: mm.counter('rehydrate_objects_done', 'Objects rehydrated.'),
      records: mm.counter('rehydrate_records', 'Records rehydrated (in the window and passing the filter).'),
      bytes: mm.counter('rehydrate_bytes', 'Object bytes read.'),
      errors: mm.counter('rehydrate_errors', 'Bad lines and objects met while rehydrating.', ['reason']),
      eta: mm.gauge('rehydrate_eta_seconds', 'Estimated seconds until the window is done.'),
    };
  }

  async start(host: Host): Promise<void> {
    const c = this.s.config;
    const now = Date.now();
    const startMs = parseTime(c.start, now, 'start');
    const endMs = parseTime(c.end, now, 'end');
    if (endMs < startMs) throw new Error(`end (${c.end}) is before start (${c.start})`);
    const loc = openLocation(c.from, c);
    this.store = loc.store;
    let cp: Checkpoint | undefined;
    if (c.checkpoint) {
      const job = createHash('sha256').update(JSON.stringify([c.from, c.layout, c.partition_format, c.start, c.end, c.filter])).digest('hex').slice(0, 16);
      cp = new Checkpoint(join(host.dataDir, 'rehydrate', `${this.s.id.replace(/[^\w.-]/g, '_')}-${job}.journal`));
      const absolute = !/^[+-]|^now$|^$/.test(c.start.trim()) && !/^[+-]|^now$|^$/.test(c.end.trim());
      if (cp.exists && cp.complete && !absolute) cp.reset();
      if (!cp.exists) cp.begin({ startMs, endMs });
      else this.s.logger.info({ checkpoint: cp.path, objects_done: cp.done.size }, cp.complete ? 'window already rehydrated' : 'resuming rehydration');
    }
    const window = cp?.window ?? { startMs, endMs };
    this.finished = this.run(loc.key, window, cp).then(
      () => {
        this.progress.finished = true;
      },
      (err) => {
        this.progress.error = errorMessage(err);
        this.s.logger.error({ err: errorMessage(err) }, 'rehydration failed');
        host.reportStatus(`receiver:${this.s.id}`, 'permanent_error', err as Error);
      },
    );
    this.finished.finally(() => {
      activeRehydrations.delete(this.progress);
      this.resolveDone();
    });
    activeRehydrations.add(this.progress);
  }

  private problem(p: ObjectProblem, reason: string): void {
    this.m.errors.inc({ reason });
    if (this.progress.problems.length < MAX_PROBLEMS) this.progress.problems.push(p);
    this.s.logger.warn({ object: p.uri, ...(p.line ? { line: p.line } : {}), reason: p.reason }, 'bad input while rehydrating');
  }

  private async run(prefix: string, w: { startMs: number; endMs: number }, cp?: Checkpoint): Promise<void> {
    const c = this.s.config;
    const store = this.store!;
    if (cp?.complete) return;
    const layout = await retrying(() => resolveLayout(store, prefix, c.layout, c.partition_format), this.stop.signal);
    const objects = await retrying(() => listWindow(store, layout, w.startMs, w.endMs, { lateMs: c.max_lateness, services: exactServices(c.filter) }), this.stop.signal);
    const todo = objects.filter((o) => !cp?.done.has(o.key));
    const p = this.progress;
    p.objectsTotal = objects.length;
    p.objectsDone = objects.length - todo.length;
    p.bytesTotal = objects.reduce((a, o) => a + o.size, 0);
    p.bytesDone = objects.filter((o) => cp?.done.has(o.key)).reduce((a, o) => a + o.size, 0);
    this.m.objectsTotal.set(objects.length);
    this.s.logger.info({ objects: objects.length, to_read: todo.length, layout: layout.layout, start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString() }, 'rehydrating');
    const filter = compileFilter(c.filter);
    await eachLimit(todo, c.parallel, (o) => this.readOne(o, w, filter, cp), this.stop.signal);
    if (this.stop.signal.aborted) return;
    cp?.markComplete();
    this.s.logger.info({ records: p.records, objects: p.objectsTotal, bad_lines: p.badLines, bad_objects: p.badObjects }, 'rehydration done');
  }

  private async readOne(o: ObjectInfo, w: { startMs: number; endMs: number }, filter: ((r: RRRecord) => boolean) | undefined, cp?: Checkpoint): Promise<void> {
    const c = this.s.config;
    const store = this.store!;
    const uri = store.uri(o.key);
    const p = this.progress;
    let skipTo = cp?.progress.get(o.key) ?? 0;
    for (let attempt = 0; ; attempt++) {
      let records = 0;
      let bad = 0;
      let batch: RRRecord[] = [];
      let lastPos = skipTo;
      const flush = async () => {
        if (!batch.length) return;
        const out = batch;
        batch = [];
        await this.deliver(out);
        records += out.length;
        p.records += out.length;
        this.m.records.inc({}, out.length);
        skipTo = lastPos;
        cp?.advance(o.key, lastPos);
      };
      try {
        for await (const item of readObject(store, o.key, this.stop.signal)) {
          if (item.kind === 'bad') {
            if (attempt === 0) {
              bad++;
              p.badLines++;
              this.problem({ uri, line: item.line, reason: item.reason }, 'bad_line');
            }
            continue;
          }
          if (item.pos <= skipTo) continue;
          lastPos = item.pos;
          if (!(item.ms >= w.startMs && item.ms <= w.endMs)) {
            p.outside++;
            continue;
          }
          if (filter && !filter(item.record)) {
            p.filtered++;
            continue;
          }
          batch.push(item.record);
          if (batch.length >= c.batch_size) await flush();
        }
        await flush();
        if (this.stop.signal.aborted) return;
        if (records === 0 && bad > 0 && skipTo === 0) {
          p.badObjects++;
          this.problem({ uri, reason: 'no RRPair in this object (another format?)' }, 'foreign_object');
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        if (err instanceof DeliveryStopped) return;
        if (!isCorruption(err) && isRetryable(err) && attempt < c.object_retries) {
          this.s.logger.warn({ object: uri, err: errorMessage(err), attempt: attempt + 1 }, 'reading object failed, retrying');
          await sleep(500 * 2 ** attempt, this.stop.signal).catch(() => undefined);
          continue;
        }
        p.badObjects++;
        this.problem({ uri, reason: `${isCorruption(err) ? 'corrupt object' : 'unreadable object'}: ${errorMessage(err)}` }, isCorruption(err) ? 'corrupt_object' : 'unreadable_object');
      }
      break;
    }
    cp?.finish(o.key);
    p.objectsDone++;
    p.bytesDone += o.size;
    this.m.objectsDone.inc();
    this.m.bytes.inc({}, o.size);
    const elapsed = (Date.now() - p.startedAt) / 1000;
    const rate = p.bytesDone / Math.max(elapsed, 0.001);
    this.m.eta.set(rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : 0);
  }

  /** Hand a batch on; wait and retry while the pipeline pushes back, until shutdown. */
  private async deliver(batch: RRRecord[]): Promise<void> {
    const backoff = new Backoff({ enabled: true, initial_interval: 200, max_interval: 10_000, max_elapsed_time: 0, multiplier: 2, randomization_factor: 0.2 });
    for (;;) {
      if (this.stop.signal.aborted) throw new DeliveryStopped();
      try {
        await this.next.consume(batch, { signal: this.stop.signal, receiver: this.s.id });
        return;
      } catch (err) {
        if (this.stop.signal.aborted) throw new DeliveryStopped();
        if (!isRetryable(err)) {
          this.s.metrics.dropped(batch.length, 'refused_permanently');
          this.s.logger.error({ err: errorMessage(err), records: batch.length }, 'pipeline refused rehydrated records permanently');
          return;
        }
        const wait = backoff.next((err as { retryAfterMs?: number }).retryAfterMs) ?? 1000;
        await sleep(wait, this.stop.signal).catch(() => undefined);
      }
    }
  }

  done(): Promise<void> {
    return this.donePromise;
  }

  async shutdown(): Promise<void> {
    this.stop.abort(new Error('shutdown'));
    await this.finished?.catch(() => undefined);
    await this.store?.close?.();
    this.resolveDone();
  }
}

class DeliveryStopped extends Error {}

async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal, tries = 5): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries - 1 || !isRetryable(err) || signal.aborted) throw err;
      await sleep(500 * 2 ** i, signal);
    }
  }
}

const schema = obj(
  {
    from: str(undefined, 'Where the archive is: s3://bucket/prefix, gs://bucket/prefix, azblob://account/container/prefix, abfss://filesystem@account.dfs.core.windows.net/prefix, or a directory.', { minLength: 1 }),
    layout: oneOf(['auto', ...LAYOUTS], 'auto', 'auto reads <prefix>/_rrpipe/layout.json; or name the layout.'),
    partition_format: str(undefined, 'otel_awss3: the strftime partition format the writer used.'),
    start: str(undefined, 'Window start: RFC 3339 or relative (-6h).', { minLength: 1 }),
    end: str('now', 'Window end (inclusive): RFC 3339, now, or relative (-1h).'),
    max_lateness: duration('1h', 'Layouts partitioned by write time (OTel, Fluent Bit): also list partitions this long after end.'),
    filter: obj(Object.fromEntries(FILTER_FIELDS.map((f) => [f, strings(undefined, `Accepted ${f} values ("*" globs).`)])) as Record<FilterField, TArray<TString>>),
    parallel: int(8, 'Objects read at once.', { minimum: 1 }),
    batch_size: int(1000, 'Records per batch handed to the pipeline.', { minimum: 1 }),
    checkpoint: bool(true, 'Keep a checkpoint under service.data_dir so a restarted rehydration resumes without duplicates.'),
    object_retries: int(3, 'Retries of an object whose download fails (network).', { minimum: 0 }),
    s3: obj({ region: str(undefined, 'AWS region.'), endpoint: address(undefined, 'Custom S3 endpoint.'), s3_force_path_style: bool(undefined, 'Path-style addressing.') }),
    gcs: obj({ project_id: str(undefined, 'Project.'), endpoint: address(undefined, 'Custom API endpoint.') }),
    azure: obj({
      connection_string: secret('Connection string.'),
      account_key: secret('Account key.'),
      endpoint: address(undefined, 'Blob service URL (azblob://) or DFS endpoint URL (abfss://).'),
      auth: obj({
        type: oneOf(AZURE_TOKEN_AUTH_TYPES, undefined, 'Entra ID instead of a key, as azure_blob\'s auth.type: service_principal, system_managed_identity, user_managed_identity or default_credentials. With no key, connection string or type: default_credentials.'),
        ...azureTokenAuthProperties(),
      }),
    }),
  },
  { required: ['from', 'start'] },
);

export type RehydrateConfig = Config<typeof schema>;

export const factory: ReceiverFactory<RehydrateConfig> = {
  kind: 'receiver',
  type: 'rehydrate',
  stability: 'alpha',
  description: 'Loads a time window of archived RRPairs back from S3, GCS, Azure Blob, ADLS Gen2 or a local directory, once.',
  schema,
  validate(c) {
    const problems = [];
    for (const f of ['start', 'end'] as const) {
      try {
        parseTime(c[f], Date.now(), f);
      } catch (err) {
        problems.push({ path: [f], message: errorMessage(err) });
      }
    }
    return problems;
  },
  create: (s, next) => new RehydrateReceiver(s, next),
};
