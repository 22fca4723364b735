import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Bigtable, Table } from '@google-cloud/bigtable';
import { lazyRequire } from '../../helpers/lazy-require.js';
import type { ExporterFactory, CreateSettings } from '../../core/component.js';
import { bool, bytes, duration, exporterHelperProperties, int, obj, path, str, address, type Config } from '../../config/fragments.js';
import { PartialFailureError, PermanentError, RetryableError, type ItemFailure } from '../../core/errors.js';
import type { QueryFilter, QueryHit, QueryPage, QueryableStore } from '../../core/query.js';
import type { RecordBatch } from '../../core/record.js';
import { createExporter } from '../../helpers/exporter.js';
import { compileFilter, compareKey, pageOf, queryable, tooLargeReason } from '../../helpers/hot-store.js';
import { indexDocOf } from '../../rrpair/derive.js';
import { INDEX_FIELDS, type IndexDoc } from '../../rrpair/index-doc.js';
import type { RRPair } from '../../rrpair/types.js';

const bigtable = lazyRequire<typeof import('@google-cloud/bigtable')>('@google-cloud/bigtable');

/** Column families: index fields, and the full RRPair. */
export const FAMILY_INDEX = 'i';
export const FAMILY_RRPAIR = 'r';
const NUMERIC = new Set(['duration', 'req_size', 'res_size']);
const KNOWN = new Set<string>(INDEX_FIELDS);
/** Lookup rows (id → row key) start with '%', which an escaped service never does. */
const LOOKUP = '%i#';
/** gRPC codes worth retrying per entry (as the client library's own set, plus RESOURCE_EXHAUSTED). */
const RETRYABLE_CODES = new Set([1, 4, 8, 10, 13, 14]);

function escapeService(s: string): string {
  return s.replace(/%/g, '%25').replace(/#/g, '%23');
}

/**
 * The row key: `<service>#<salt>#<ts>#<id>`.
 * - service first: a query by service and time range is a few contiguous scans.
 * - salt: two hex digits from a hash of the id, in [0, salt_buckets): a busy service's newest
 *   rows go to salt_buckets separate key ranges (tablets) instead of all landing at the end of
 *   one range, which would make one tablet server take every write (hot-spotting).
 * - ts: RFC 3339 with nanoseconds, fixed width, so it sorts as time does.
 * - id: the record id, making the key unique and writes idempotent.
 */
export function rowKey(doc: IndexDoc, buckets: number): string {
  return `${escapeService(doc.service)}#${saltOf(doc.id, buckets)}#${doc.ts}#${doc.id}`;
}

export function saltOf(id: string, buckets: number): string {
  const h = createHash('sha1').update(id).digest().readUInt32BE(0);
  return (h % buckets).toString(16).padStart(2, '0');
}

/** Doc fields as cells: strings as they are, numbers in decimal, extra non-string fields as JSON under `x:<name>`. */
function docCells(doc: IndexDoc, ts: Date): Record<string, { value: string; timestamp: Date }> {
  const cells: Record<string, { value: string; timestamp: Date }> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (v === undefined) continue;
    if (KNOWN.has(k) || typeof v === 'string') cells[k] = { value: String(v), timestamp: ts };
    else cells[`x:${k}`] = { value: JSON.stringify(v), timestamp: ts };
  }
  return cells;
}

type Cell = { value: string | Buffer };
type RowData = Record<string, Record<string, Cell[]>>;

function cellText(c: Cell[] | undefined): string | undefined {
  const v = c?.[0]?.value;
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
}

function docFromRow(data: RowData): IndexDoc | undefined {
  const fam = data[FAMILY_INDEX];
  if (!fam || !fam.id) return undefined;
  const doc: Record<string, string | number | boolean> = {};
  for (const [q, cells] of Object.entries(fam)) {
    const text = cellText(cells) ?? '';
    if (q.startsWith('x:')) doc[q.slice(2)] = JSON.parse(text) as string | number | boolean;
    else if (NUMERIC.has(q)) doc[q] = Number(text);
    else doc[q] = text;
  }
  // Fixed field order, as indexDocOf builds it.
  const ordered: Record<string, string | number | boolean> = {};
  for (const k of INDEX_FIELDS) if (k in doc) ordered[k] = doc[k]!;
  for (const k of Object.keys(doc)) if (!(k in ordered)) ordered[k] = doc[k]!;
  return ordered as IndexDoc;
}

interface Entry {
  key: string;
  method: 'insert';
  data: Record<string, Record<string, { value: string; timestamp: Date }>>;
}

export class BigtableStore implements QueryableStore {
  private client!: Bigtable;
  table!: Table;

  constructor(private readonly cfg: BigtableExporterConfig, private readonly configDir: string, private readonly log: CreateSettings<unknown>['logger']) {}

  async start(): Promise<void> {
    const c = this.cfg;
    this.client = new (bigtable().Bigtable)({
      projectId: c.project_id,
      ...(c.endpoint ? { apiEndpoint: c.endpoint } : {}),
      ...(c.app_profile_id ? { appProfileId: c.app_profile_id } : {}),
      ...(c.credentials_file ? { keyFilename: resolve(this.configDir, c.credentials_file) } : {}),
      metricsEnabled: false,
    });
    this.table = this.client.instance(c.instance_id).table(c.table_id);
    // Retries are the exporter helper's (per entry); one attempt inside the client keeps timing predictable.
    this.table.maxRetries = 2;
    if (c.create_table) await this.ensureTable();
  }

  /** The families' GC rule: keep a cell until it is older than the retention, and only its newest version. */
  gcRule(): { age: { seconds: number; nanos: number }; versions: number; union: true } {
    return { age: { seconds: Math.ceil(this.cfg.retention / 1000), nanos: 0 }, versions: 1, union: true };
  }

  private async ensureTable(): Promise<void> {
    const families = [FAMILY_INDEX, ...(this.cfg.store_rrpair ? [FAMILY_RRPAIR] : [])];
    try {
      const [exists] = await this.table.exists();
      if (!exists) {
        try {
          await this.table.create({ families: families.map((name) => ({ name, rule: this.gcRule() })) });
          this.log.info({ table: this.cfg.table_id }, 'bigtable table created');
          return;
        } catch (err) {
          if ((err as { code?: number }).code !== 6) throw err; // 6 = ALREADY_EXISTS: another replica created it
        }
      }
      const [have] = await this.table.getFamilies();
      const names = new Set(have.map((f) => f.id));
      for (const name of families) {
        if (!names.has(name)) await this.table.createFamily(name, { rule: this.gcRule() });
      }
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 7) {
        // PERMISSION_DENIED: the table is managed elsewhere (Terraform); write to it as it is.
        this.log.warn({ table: this.cfg.table_id, err: (err as Error).message }, 'bigtable: not allowed to create the table or its families; using it as it is');
        return;
      }
      throw err;
    }
  }

  async shutdown(): Promise<void> {
    await this.client?.close().catch(() => {});
  }

  async push(batch: RecordBatch): Promise<void> {
    const c = this.cfg;
    const failures: ItemFailure[] = [];
    const entries: { entry: Entry; index: number; size: number }[] = [];
    batch.forEach((r, index) => {
      const doc = indexDocOf(r);
      // The cell timestamp is when rrpipe received the record: the GC rule's max age counts from
      // it, and a retried write replaces the same cell instead of adding a version.
      const at = new Date(Number(r.observedNs / 1_000_000n));
      const data: Entry['data'] = { [FAMILY_INDEX]: docCells(doc, at) };
      let size = JSON.stringify(doc).length;
      if (c.store_rrpair) {
        const json = JSON.stringify(r.rrpair);
        const n = Buffer.byteLength(json);
        if (n > c.max_cell_size) {
          failures.push({ index, retryable: false, reason: tooLargeReason('bigtable', n, c.max_cell_size, 'the RRPair cell (max_cell_size)') });
          return;
        }
        data[FAMILY_RRPAIR] = { json: { value: json, timestamp: at } };
        size += n;
      }
      const key = rowKey(doc, c.salt_buckets);
      entries.push({ entry: { key, method: 'insert', data }, index, size });
      if (c.store_rrpair) entries.push({ entry: { key: `${LOOKUP}${doc.id}`, method: 'insert', data: { [FAMILY_INDEX]: { k: { value: key, timestamp: at } } } }, index, size: key.length });
    });
    // MutateRows requests stay under max_request_size.
    const groups: (typeof entries)[] = [];
    let cur: typeof entries = [];
    let curSize = 0;
    for (const e of entries) {
      if (cur.length && curSize + e.size > c.max_request_size) {
        groups.push(cur);
        cur = [];
        curSize = 0;
      }
      cur.push(e);
      curSize += e.size;
    }
    if (cur.length) groups.push(cur);
    const failed = new Map<number, ItemFailure>();
    for (const f of failures) failed.set(f.index, f);
    await Promise.all(groups.map(async (g) => {
      try {
        await this.table.mutate(g.map((e) => e.entry));
      } catch (err) {
        const errs = (err as { errors?: { entry?: Entry; code?: number; message?: string }[] }).errors;
        if (err instanceof Error && err.name === 'PartialFailureError' && Array.isArray(errs) && errs.length) {
          const byEntry = new Map(g.map((e) => [e.entry, e.index]));
          for (const e of errs) {
            const index = e.entry ? byEntry.get(e.entry) : undefined;
            if (index === undefined) continue;
            const retryable = e.code === undefined || RETRYABLE_CODES.has(e.code);
            if (!failed.has(index) || retryable) failed.set(index, { index, retryable, reason: `bigtable: ${e.message ?? `code ${e.code}`}` });
          }
          if (![...failed.values()].some((f) => g.some((e) => e.index === f.index))) {
            for (const e of g) failed.set(e.index, { index: e.index, retryable: true, reason: `bigtable: ${(err as Error).message}` });
          }
          return;
        }
        const code = (err as { code?: number }).code;
        const retryable = code === undefined || RETRYABLE_CODES.has(code);
        for (const e of g) failed.set(e.index, { index: e.index, retryable, reason: `bigtable: ${(err as Error).message}` });
      }
    }));
    const all = [...failed.values()];
    if (all.length === batch.length && all.every((f) => f.retryable)) throw new RetryableError(all[0]!.reason);
    if (all.length === batch.length && all.every((f) => !f.retryable) && new Set(all.map((f) => f.reason)).size === 1) throw new PermanentError(all[0]!.reason);
    if (all.length) throw new PartialFailureError(all);
  }

  private scan(opts: { ranges?: { start: { value: string; inclusive: boolean }; end: { value: string; inclusive: boolean } }[] }, onRow: (key: string, data: RowData) => boolean): Promise<void> {
    return new Promise((resolveScan, reject) => {
      const stream = this.table.createReadStream(opts);
      let stopped = false;
      stream.on('data', (row: { id: string; data: RowData }) => {
        if (stopped) return;
        if (!onRow(row.id, row.data)) {
          stopped = true;
          stream.end();
          resolveScan();
        }
      });
      stream.on('error', (err: Error) => (stopped ? undefined : reject(err)));
      stream.on('end', () => resolveScan());
    });
  }

  async query(filter: QueryFilter): Promise<QueryPage> {
    const f = compileFilter(filter);
    const hits: QueryHit[] = [];
    const toHit = (data: RowData): QueryHit | undefined => {
      const doc = docFromRow(data);
      if (!doc || !f.matches(doc)) return undefined;
      const rr = cellText(data[FAMILY_RRPAIR]?.json);
      return rr ? { doc, rrpair: JSON.parse(rr) as RRPair } : { doc };
    };
    if (filter.service !== undefined) {
      // One contiguous range per salt bucket, each read in (ts, id) order until it has `limit` hits.
      const svc = escapeService(filter.service);
      let more = false;
      await Promise.all(Array.from({ length: this.cfg.salt_buckets }, async (_, b) => {
        const p = `${svc}#${b.toString(16).padStart(2, '0')}#`;
        const lower = f.after && (!f.startTs || `${f.after.ts}#${f.after.id}` >= f.startTs)
          ? { value: `${p}${f.after.ts}#${f.after.id}`, inclusive: false }
          : { value: `${p}${f.startTs ?? ''}`, inclusive: true };
        const upper = f.endTs ? { value: `${p}${f.endTs}`, inclusive: false } : { value: `${p.slice(0, -1)}$`, inclusive: false };
        let n = 0;
        await this.scan({ ranges: [{ start: lower, end: upper }] }, (_key, data) => {
          const h = toHit(data);
          if (!h) return true;
          hits.push(h);
          if (++n >= f.limit) {
            more = true;
            return false;
          }
          return true;
        });
      }));
      return pageOf(hits, f.limit, more);
    }
    // No service: the whole table is read (row keys are not in time order across services).
    await this.scan({}, (key, data) => {
      if (key.startsWith(LOOKUP)) return true;
      const h = toHit(data);
      if (h) hits.push(h);
      return true;
    });
    hits.sort((a, b) => compareKey(a.doc, b.doc));
    return pageOf(hits, f.limit, false);
  }

  async get(id: string): Promise<RRPair | undefined> {
    const [exists] = await this.table.row(`${LOOKUP}${id}`).exists();
    if (!exists) return undefined;
    const [lookup] = await this.table.row(`${LOOKUP}${id}`).get();
    const key = cellText((lookup as { data: RowData }).data[FAMILY_INDEX]?.k);
    if (!key) return undefined;
    const [row] = await this.table.row(key).get().catch(() => [undefined]);
    const json = cellText((row as { data: RowData } | undefined)?.data?.[FAMILY_RRPAIR]?.json);
    return json ? (JSON.parse(json) as RRPair) : undefined;
  }
}

const schema = obj({
  project_id: str(undefined, 'Google Cloud project.'),
  instance_id: str(undefined, 'Bigtable instance.'),
  table_id: str('rrpairs', 'Table.'),
  app_profile_id: str(undefined, 'App profile (routing, e.g. single-cluster for consistent reads).'),
  endpoint: address(undefined, 'host:port of the Bigtable emulator (plaintext). Unset for Cloud Bigtable; BIGTABLE_EMULATOR_HOST is honoured too.'),
  credentials_file: path(undefined, 'Service account key file; Application Default Credentials (workload identity) when unset.'),
  create_table: bool(true, 'Create the table and column families (with the GC rule) when missing and allowed.'),
  retention: duration('14d', 'Max age of the GC rule on both families.'),
  store_rrpair: bool(true, 'Keep the full RRPair in family "r" (and an id lookup row for get).'),
  salt_buckets: int(16, 'Salt buckets per service (row key spreading); a query by service reads this many ranges. Do not change it on an existing table.', { minimum: 1, maximum: 256 }),
  max_cell_size: bytes('10MiB', 'Largest RRPair cell; larger records are dead-lettered (Bigtable: 10 MB recommended, 100 MB hard limit).'),
  max_request_size: bytes('16MiB', 'A batch is split into MutateRows requests of at most this size.'),
  ...exporterHelperProperties(),
}, { required: ['project_id', 'instance_id'] });

export type BigtableExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<BigtableExporterConfig> = {
  kind: 'exporter',
  type: 'bigtable',
  stability: 'alpha',
  description: 'Short-term store in Cloud Bigtable: row key service#salt#ts#id, GC rule of max age; queryable.',
  schema,
  create(s) {
    const store = new BigtableStore(s.config, s.configDir, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b) => store.push(b), shutdown: () => store.shutdown() }), store);
  },
};
