import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import fg from 'fast-glob';
import type { Consumer, CreateSettings, FiniteReceiver, Host, ReceiverFactory } from '../../core/component.js';
import { bool, bytes, duration, int, obj, oneOf, path, strings, receiverDeadLetter, type Config } from '../../config/fragments.js';
import { errorMessage, isRetryable, PermanentError } from '../../core/errors.js';
import { newRecord, type Attrs, type RecordBatch } from '../../core/record.js';
import { DeadLetter } from '../../helpers/dead-letter.js';
import { sleep } from '../../helpers/backoff.js';
import { MalformedRecordError, parseRRPairLine } from '../../rrpair/json.js';
import { LineSplitter, type InvalidUtf8Line, type Line, type OversizedLine } from './lines.js';
import { RefusalLog } from './refusal-log.js';
import { CheckpointStore, type Checkpoint, type FileState } from './state.js';

const FINGERPRINT_BYTES = 1024;
/** Refused lines logged one by one per minute; beyond, only how many (RefusalLog). */
const MAX_LOGGED_REFUSED_PER_MINUTE = 20;
/** A followed file's unterminated last line that is not a whole JSON object, unchanged this long, is logged and counted (once). */
const HELD_TAIL_REPORT_MS = 60_000;
/** Records handed to the pipeline and not yet acknowledged: room for the default batch (8,192) twice. */
const MAX_IN_FLIGHT_RECORDS = 16_384;

interface InFlight {
  state: FileState;
  end: { offset: number; line: number };
  settled: boolean;
  accepted: boolean;
  done: Promise<void>;
}

/**
 * Reads raw.jsonl files (plain or gzip) matching globs, once or following new lines and new files
 * like `tail -F`. Offsets are committed only after the pipeline accepted the records, so a restart
 * resumes without loss (at-least-once).
 */
export class FileReceiver implements FiniteReceiver {
  private cp: Checkpoint = { version: 1, files: {} };
  private store!: CheckpointStore;
  private dl!: DeadLetter;
  private stopping = false;
  private readonly stop = new AbortController();
  private readonly wake = new AbortController();
  private loop?: Promise<void>;
  private doneResolve!: () => void;
  private readonly donePromise = new Promise<void>((r) => (this.doneResolve = r));
  private firstPoll = true;
  private readonly refusals: RefusalLog;
  /** The unterminated last line held back in a followed file: where it ends, since when, whether reported. */
  private readonly heldTails = new WeakMap<FileState, { end: number; since: number; reported: boolean }>();
  /** States whose saved offset was checked against the file (see readFile). */
  private readonly offsetChecked = new WeakSet<FileState>();
  private readonly heldTailCounter;
  private readonly deadLettering: Promise<void>[] = [];
  private readonly inFlight: InFlight[] = [];
  private inFlightRecords = 0;
  private readonly log;
  private readonly m;

  constructor(private readonly s: CreateSettings<FileReceiverConfig>, private readonly next: Consumer) {
    this.log = s.logger;
    this.m = s.metrics;
    this.refusals = new RefusalLog(this.log, () => this.dl.destination, MAX_LOGGED_REFUSED_PER_MINUTE);
    this.heldTailCounter = s.metrics.counter('file_incomplete_lines_held', `Unterminated last lines of followed files that are not a whole JSON object and stayed so for ${HELD_TAIL_REPORT_MS / 1000} s (each also logged once; held until a newline comes).`);
  }

  async start(host: Host): Promise<void> {
    const c = this.s.config;
    const safeId = this.s.id.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.store = new CheckpointStore(c.checkpoint.enabled ? c.checkpoint.path ?? join(host.dataDir, 'file_receiver', `${safeId}.json`) : undefined);
    this.cp = this.store.load();
    this.dl = new DeadLetter(this.s.id, c.dead_letter, join(host.dataDir, 'dead_letter'), this.m, this.log, host, { protectInput: true, ...(this.s.protector ? { protector: this.s.protector } : {}) });
    this.loop = this.run().catch((err) => {
      this.log.error({ err }, 'file receiver stopped on an unexpected error');
      host.reportStatus(`receiver:${this.s.id}`, 'permanent_error', err as Error);
    });
  }

  done(): Promise<void> {
    return this.donePromise;
  }

  private async run(): Promise<void> {
    const c = this.s.config;
    while (!this.stopping) {
      const files = await fg(c.include, { ignore: c.exclude, absolute: true, onlyFiles: true, dot: false, suppressErrors: true });
      files.sort();
      const seen = new Set<string>();
      for (const path of files) {
        if (this.stopping) break;
        try {
          const key = await this.readFile(path);
          if (key) seen.add(key);
        } catch (err) {
          if (this.stopping) break;
          this.log.error({ err, file: path }, 'cannot read file; will try again');
        }
      }
      if (!this.stopping) this.forgetVanished(seen);
      this.refusals.flush();
      this.firstPoll = false;
      if (!c.follow) break;
      try {
        await sleep(c.poll_interval, this.wake.signal);
      } catch {
        break;
      }
    }
    this.store.save(this.cp);
    this.refusals.flush(true);
    this.doneResolve();
  }

  /** Read whatever is new in one file; returns its state key. */
  private async readFile(path: string): Promise<string | undefined> {
    const st = await stat(path);
    const key = `${st.dev}:${st.ino}`;
    const fp = await fingerprint(path, Math.min(st.size, FINGERPRINT_BYTES));
    let state: FileState | undefined = this.cp.files[key];
    if (state && (state.fingerprintLen > fp.len || (state.fingerprintLen > 0 && fp.hashOfLen(state.fingerprintLen) !== state.fingerprint))) {
      this.log.info({ file: path }, 'file was replaced (inode reused with other content); reading it from the start');
      state = undefined;
    }
    const gz = this.s.config.compression === 'gzip' || (this.s.config.compression === 'auto' && path.endsWith('.gz'));
    if (!state) {
      const skip = this.firstPoll && this.s.config.start_at === 'end' && !gz;
      state = { path, offset: skip ? st.size : 0, line: 0, fingerprint: fp.hash, fingerprintLen: fp.len };
      this.cp.files[key] = state;
    } else {
      state.path = path;
      if (state.fingerprintLen < fp.len) {
        state.fingerprint = fp.hash;
        state.fingerprintLen = fp.len;
      }
    }
    if (gz) {
      if (!state.done) await this.readStream(state, createReadStream(path).pipe(createGunzip()), true);
      return key;
    }
    if (st.size < state.offset) {
      this.log.warn({ file: path, offset: state.offset, size: st.size }, 'file was truncated; reading it from the start');
      state.offset = 0;
      state.line = 0;
    }
    // An inode reused by a file that starts with the same first KiB (a re-exported raw.jsonl starts
    // with the same record) passes the fingerprint; the saved offset then falls anywhere in it. What
    // was delivered ended at a newline, or was a last line without one that a newline may follow
    // now, so a good offset has a newline just before or at it (checked once a state in this
    // process: a saved offset from before a restart).
    if (state.offset > 0 && st.size > state.offset && !this.offsetChecked.has(state) && !(await newlineAround(path, state.offset))) {
      this.log.warn({ file: path, offset: state.offset }, 'file was replaced (its saved offset is not at the end of a line); reading it from the start');
      state.offset = 0;
      state.line = 0;
    }
    this.offsetChecked.add(state);
    if (st.size > state.offset) await this.readStream(state, createReadStream(path, { start: state.offset }), false);
    return key;
  }

  private async readStream(state: FileState, stream: NodeJS.ReadableStream, compressed: boolean): Promise<void> {
    // After a read error, batches of the failed attempt may still be in flight: settle their offsets first.
    await this.drain();
    const c = this.s.config;
    const split = new LineSplitter(compressed ? 0 : state.offset, compressed ? 0 : state.line, c.max_line_size);
    let batch: RecordBatch = [];
    let batchEnd = { offset: state.offset, line: state.line };
    const skipUntil = compressed ? state.offset : 0;
    const take = async (lines: (Line | OversizedLine | InvalidUtf8Line)[]) => {
      for (const l of lines) {
        if (l.end <= skipUntil) continue;
        this.toRecord(l, state.path, batch);
        batchEnd = { offset: l.end, line: l.number };
        if (batch.length >= c.batch_size) {
          await this.emit(batch, state, batchEnd);
          batch = [];
        }
      }
    };
    const cap = compressed && c.max_decompressed_size > 0 ? c.max_decompressed_size : Infinity;
    let inflated = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.stopping) break;
        inflated += chunk.length;
        if (inflated > cap) {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          throw new DecompressionCapError(`decompresses to more than max_decompressed_size (${cap} bytes)`);
        }
        await take(split.push(chunk));
      }
    } catch (err) {
      if (!compressed) throw err;
      // A truncated or corrupt gzip file, or a bomb: deliver what was readable, report the rest once.
      await take(split.push(Buffer.alloc(0)));
      if (batch.length) await this.emit(batch, state, batchEnd);
      batch = [];
      const delivered = await this.drain();
      const what = err instanceof DecompressionCapError ? 'gzip file over the decompression cap' : 'corrupt gzip file';
      this.m.received(1);
      await this.dl.raw('', `${what}: ${errorMessage(err)}`, state.path);
      this.log.error({ file: state.path, err: errorMessage(err), dead_letter: this.dl.destination }, `${what}; delivered what could be read before it`);
      if (!delivered) return;
      state.done = true;
      this.store.save(this.cp);
      return;
    }
    if (this.stopping) {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      if (batch.length) await this.emit(batch, state, batchEnd);
      await this.drain();
      return;
    }
    // A last line without a newline: final when the file is complete (gzip, or read once),
    // or when it already is a whole JSON object; otherwise a writer may still be finishing it.
    const rest = split.rest();
    if (rest && rest.end > skipUntil && (compressed || !c.follow || isWholeJson(rest.text))) {
      this.toRecord(rest, state.path, batch);
      batchEnd = { offset: rest.end, line: rest.number };
      this.heldTails.delete(state);
    } else if (rest && !compressed) this.heldTail(state, rest.end, rest.end - split.committedEnd, rest.number);
    else this.heldTails.delete(state);
    // An over-long last line with no newline in a finished file is refused like any over-long line.
    const over = split.oversizedRest();
    if (over && over.end > skipUntil && (compressed || !c.follow)) {
      this.toRecord(over, state.path, batch);
      batchEnd = { offset: over.end, line: over.number };
    }
    if (batch.length || batchEnd.offset !== state.offset) await this.emit(batch, state, batchEnd);
    if (!(await this.drain())) return;
    if (compressed) {
      state.done = true;
      this.store.save(this.cp);
    }
  }

  private toRecord(l: Line | OversizedLine | InvalidUtf8Line, path: string, batch: RecordBatch): void {
    if ('oversized' in l) {
      this.rejectLine(l.head, `line longer than max_line_size (${this.s.config.max_line_size} bytes): ${l.bytes} bytes, of which the entry keeps the first ${Buffer.byteLength(l.head)}`, path, l.number);
      return;
    }
    if ('invalidUtf8' in l) {
      this.rejectLine(l.text, 'malformed line: not valid UTF-8', path, l.number);
      return;
    }
    if (l.text.trim() === '') return;
    try {
      const rr = parseRRPairLine(l.text);
      const attributes: Attrs = this.s.config.include_file_name ? { 'log.file.name': basename(path) } : {};
      batch.push(newRecord(rr, { attributes, sizeHint: Buffer.byteLength(l.text) }));
    } catch (err) {
      if (!(err instanceof MalformedRecordError)) throw err;
      this.rejectLine(l.text, `malformed line: ${err.message}`, path, l.number);
    }
  }

  private rejectLine(text: string, reason: string, path: string, line: number): void {
    this.m.received(1);
    this.deadLettering.push(this.dl.raw(text, reason, `${path}:${line}`));
    this.refusals.refused({ file: path, line, reason });
  }

  /**
   * A followed file ends with a line that has no newline and is not a whole JSON object: a writer
   * may still be finishing it, so it is held. When it stays the same for HELD_TAIL_REPORT_MS, it
   * is logged and counted once (it may be a writer that died mid-line); it is still read when its
   * newline comes, or refused then if it is not an RRPair.
   */
  private heldTail(state: FileState, end: number, bytes: number, line: number): void {
    const now = Date.now();
    const h = this.heldTails.get(state);
    if (!h || h.end !== end) {
      this.heldTails.set(state, { end, since: now, reported: false });
      return;
    }
    if (h.reported || now - h.since < HELD_TAIL_REPORT_MS) return;
    h.reported = true;
    this.heldTailCounter.inc();
    this.log.warn({ file: state.path, line, bytes, held_for_ms: now - h.since }, 'the file ends with an incomplete line (no newline, not a whole JSON object) that has not changed; holding it until a newline is written');
  }

  /**
   * Hand a batch to the pipeline without waiting for the batches before it to be accepted, up
   * to MAX_IN_FLIGHT_RECORDS. Waiting for each acknowledgement before reading on would starve a
   * `batch` processor (it could never fill, and every batch would wait out its timeout).
   * Offsets still move only over accepted batches, in file order.
   */
  private async emit(batch: RecordBatch, state: FileState, end: { offset: number; line: number }): Promise<void> {
    while (this.inFlightRecords > 0 && this.inFlightRecords + batch.length > MAX_IN_FLIGHT_RECORDS) {
      await Promise.race(this.inFlight.filter((e) => !e.settled).map((e) => e.done));
    }
    // Refused lines must be in the dead-letter file before the offset moves past them.
    const entry: InFlight = { state, end, settled: false, accepted: false, done: Promise.resolve() };
    const deadLettered = this.deadLettering.splice(0);
    this.inFlightRecords += batch.length;
    entry.done = this.deliver(batch, state)
      .then(async (accepted) => {
        await Promise.all(deadLettered);
        entry.accepted = accepted;
      })
      .finally(() => {
        entry.settled = true;
        this.inFlightRecords -= batch.length;
        this.commit();
      });
    this.inFlight.push(entry);
  }

  /** Move offsets over the accepted batches at the head of the in-flight list. */
  private commit(): void {
    let moved = false;
    while (this.inFlight[0]?.settled && this.inFlight[0].accepted) {
      const e = this.inFlight.shift()!;
      e.state.offset = e.end.offset;
      e.state.line = e.end.line;
      moved = true;
    }
    if (moved) this.store.save(this.cp);
  }

  /** Wait for every batch in flight; true when all were accepted and their offsets committed. */
  private async drain(): Promise<boolean> {
    while (this.inFlight.some((e) => !e.settled)) await Promise.all(this.inFlight.map((e) => e.done));
    const all = this.inFlight.length === 0;
    this.inFlight.length = 0;
    return all;
  }

  /**
   * Retry transient refusals (backpressure, an exporter down) until accepted; an error that will
   * not change on retry (a stack overflow on a deeply nested record, a mapping error) splits the
   * batch until the failing record stands alone, which is dead-lettered. False when stopping.
   */
  private async deliver(batch: RecordBatch, state: FileState): Promise<boolean> {
    let wait = 100;
    while (batch.length) {
      try {
        await untilAborted(this.next.consume(batch, { signal: this.stop.signal }), this.stop.signal);
        return true;
      } catch (err) {
        if (this.stop.signal.aborted) return false;
        if (err instanceof PermanentError || !isRetryable(err)) {
          if (batch.length === 1) {
            await this.dl.records(batch, `refused by the pipeline: ${errorMessage(err)}`);
            this.log.warn({ file: state.path, reason: errorMessage(err), dead_letter: this.dl.destination }, 'a record the pipeline can never accept was dead-lettered');
            return true;
          }
          const half = Math.ceil(batch.length / 2);
          return (await this.deliver(batch.slice(0, half), state)) && (await this.deliver(batch.slice(half), state));
        }
        this.log.warn({ file: state.path, records: batch.length, reason: errorMessage(err), retry_in_ms: wait }, 'pipeline refused a batch; retrying');
        try {
          await sleep(wait, this.stop.signal);
        } catch {
          return false;
        }
        wait = Math.min(wait * 2, 5000);
      }
    }
    return true;
  }

  private forgetVanished(seen: Set<string>): void {
    for (const key of Object.keys(this.cp.files)) if (!seen.has(key)) delete this.cp.files[key];
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    const abort = () => this.stop.abort(new Error('shutdown deadline'));
    if (deadline.aborted) abort();
    deadline.addEventListener('abort', abort, { once: true });
    // The poll sleep ends at once; an in-flight batch has until the deadline to be accepted.
    this.wake.abort();
    await this.loop;
    deadline.removeEventListener('abort', abort);
    await this.dl?.close();
  }
}

/** Settle with `p`, or reject when the signal aborts first (a consumer may ignore the signal). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

class DecompressionCapError extends Error {}

function isWholeJson(s: string): boolean {
  const t = s.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** Whether the byte before offset, or the one at it, is a newline. */
async function newlineAround(path: string, offset: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, offset - 1);
    return (bytesRead >= 1 && b[0] === 0x0a) || (bytesRead === 2 && b[1] === 0x0a);
  } finally {
    await fh.close();
  }
}

async function fingerprint(path: string, len: number): Promise<{ hash: string; len: number; hashOfLen(n: number): string }> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, 0);
    const head = buf.subarray(0, bytesRead);
    const h = (n: number) => createHash('sha256').update(head.subarray(0, n)).digest('hex');
    return { hash: h(bytesRead), len: bytesRead, hashOfLen: h };
  } finally {
    await fh.close();
  }
}

const schema = obj(
  {
    include: strings(undefined, 'Globs of files to read.', { minItems: 1 }),
    exclude: strings([], 'Globs of files to skip.'),
    start_at: oneOf(['beginning', 'end'], 'beginning', 'For files present at start with no saved offset: read them whole, or only what is appended.'),
    follow: bool(true, 'Keep watching for new lines and new files. false: read what is there once, then the receiver is done.'),
    poll_interval: duration('200ms', 'How often to look for new lines and files.'),
    batch_size: int(1000, 'Records per batch handed to the pipeline.', { minimum: 1 }),
    max_line_size: bytes('16MiB', 'Longer lines are dead-lettered (a hash, or their first KiB with dead_letter.raw) and skipped.'),
    max_decompressed_size: bytes('1GiB', 'A compressed file that inflates beyond this is cut there: what was read is delivered, the rest dead-lettered and logged (a gzip bomb). 0 = no cap.'),
    compression: oneOf(['auto', 'gzip', 'none'], 'auto', 'auto: files ending in .gz are gunzipped.'),
    include_file_name: bool(true, 'Add the log.file.name attribute, as the OTel filelog receiver does.'),
    checkpoint: obj({
      enabled: bool(true, 'Remember offsets across restarts.'),
      path: path(undefined, 'Checkpoint file (default: <data_dir>/file_receiver/<id>.json).'),
    }, { default: {} }),
    dead_letter: receiverDeadLetter(),
  },
  { required: ['include'] },
);

export type FileReceiverConfig = Config<typeof schema>;

export const factory: ReceiverFactory<FileReceiverConfig> = {
  kind: 'receiver',
  type: 'file',
  stability: 'beta',
  description: 'Reads raw.jsonl / .jsonl.gz files by glob, once or following (tail -F), resuming from saved offsets.',
  schema,
  create: (s, next) => new FileReceiver(s, next),
};
