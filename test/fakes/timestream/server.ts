import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenFake, type FakeListener, readBody } from '../listen.js';
import { randomUUID } from 'node:crypto';
import { evaluate, parseSelect, SqlError } from './sql.js';

/**
 * A strict wire fake of Amazon Timestream for LiveAnalytics, of exactly what
 * @aws-sdk/client-timestream-write and -query send (AWS JSON 1.0: POST /, Content-Type
 * application/x-amz-json-1.0, X-Amz-Target Timestream_20181101.<Operation>, a SigV4
 * Authorization header for the "timestream" service), written from the API reference
 * (docs.aws.amazon.com/timestream/latest/developerguide/API_Reference.html):
 *
 * - the discovery server answers DescribeEndpoints only, naming the cell server; any data call
 *   there is refused (InvalidEndpointException), so a client that skips endpoint discovery fails;
 * - the cell server answers CreateDatabase, CreateTable, DescribeTable, WriteRecords and Query.
 *
 * WriteRecords checks each request field and record (≤ 100 records, MULTI measures, value
 * lengths, the 2 KB record size, the memory/magnetic store ingestion window) and upserts by
 * (dimensions, measure name, time) with Timestream's version rules: a rejected record is
 * reported in RejectedRecordsException with its index, reason and ExistingVersion. Query parses
 * the SQL the exporter writes (sql.ts) and pages with NextToken, rows in Timestream's
 * ColumnInfo / Rows / Data shape.
 */

interface Measure { name: string; type: string; value: string }
interface StoredRecord { dims: Map<string, string>; measureName: string; time: bigint; version: number; measures: Measure[] }
interface Table {
  database: string;
  name: string;
  memoryHours: number;
  magneticDays: number;
  magneticWrites: boolean;
  created: number;
  records: Map<string, StoredRecord>;
  /** Columns in the order they first appeared: dimensions, then measures with their type. */
  dims: Set<string>;
  measures: Map<string, string>;
}

const TARGET_PREFIX = 'Timestream_20181101.';
const MEASURE_TYPES = new Set(['DOUBLE', 'BIGINT', 'VARCHAR', 'BOOLEAN', 'TIMESTAMP']);
const TIME_UNITS: Record<string, bigint> = { NANOSECONDS: 1n, MICROSECONDS: 1_000n, MILLISECONDS: 1_000_000n, SECONDS: 1_000_000_000n };

class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

export interface TimestreamCall { server: 'discovery' | 'cell'; op: string; body: Record<string, unknown> }

export class FakeTimestream {
  private listeners: FakeListener[] = [];
  discoveryPort = 0;
  cellPort = 0;
  readonly databases = new Set<string>();
  readonly tables = new Map<string, Table>();
  readonly calls: TimestreamCall[] = [];
  private readonly results = new Map<string, { sql: string; rows: unknown[][]; columns: unknown[]; queryId: string; offset: number }>();
  /** Answer the next n WriteRecords with ThrottlingException. */
  throttleWrites = 0;
  throttled = 0;
  /** Cut every connection to the cell while true (an outage). */
  down = false;
  cut = 0;
  /** "now" for the ingestion window (ms); default the clock. */
  now?: number;

  get endpoint(): string {
    return `http://127.0.0.1:${this.discoveryPort}`;
  }

  async start(): Promise<void> {
    const discovery = await listenFake((req, res) => this.handle('discovery', req, res));
    const cell = await listenFake((req, res) => this.handle('cell', req, res));
    this.listeners = [discovery, cell];
    this.discoveryPort = discovery.port;
    this.cellPort = cell.port;
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
  }

  ops(server?: 'discovery' | 'cell'): string[] {
    return this.calls.filter((c) => !server || c.server === server).map((c) => c.op);
  }

  /** Every record of a table. */
  records(database: string, table: string): StoredRecord[] {
    return [...(this.tables.get(`${database}.${table}`)?.records.values() ?? [])];
  }

  private async handle(server: 'discovery' | 'cell', req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (server === 'cell' && this.down) {
      this.cut++;
      req.socket.destroy();
      return;
    }
    const raw = await readBody(req);
    try {
      if (req.method !== 'POST' || req.url !== '/') throw new ApiError('UnknownOperationException', `${req.method} ${req.url}`, 404);
      if (req.headers['content-type'] !== 'application/x-amz-json-1.0') throw new ApiError('SerializationException', `Content-Type ${req.headers['content-type']}`);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.startsWith(TARGET_PREFIX)) throw new ApiError('UnknownOperationException', `X-Amz-Target ${target}`);
      const auth = String(req.headers.authorization ?? '');
      if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/timestream\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(auth)) throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
      if (!req.headers['x-amz-date']) throw new ApiError('IncompleteSignatureException', 'no X-Amz-Date');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new ApiError('SerializationException', 'the body is not JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('SerializationException', 'the body is not a JSON object');
      const op = target.slice(TARGET_PREFIX.length);
      this.calls.push({ server, op, body });
      if (op === 'DescribeEndpoints') {
        allowKeys(body, []);
        return this.send(res, 200, { Endpoints: [{ Address: `127.0.0.1:${this.cellPort}`, CachePeriodInMinutes: 1440 }] });
      }
      if (server === 'discovery') throw new ApiError('InvalidEndpointException', 'The endpoint that you are using is not valid for this operation: call DescribeEndpoints and use the endpoint it returns.', 421);
      switch (op) {
        case 'CreateDatabase': return this.send(res, 200, this.createDatabase(body));
        case 'CreateTable': return this.send(res, 200, this.createTable(body));
        case 'DescribeTable': return this.send(res, 200, this.describeTable(body));
        case 'WriteRecords': return this.send(res, 200, this.writeRecords(body));
        case 'Query': return this.send(res, 200, this.query(body));
        default: throw new ApiError('UnknownOperationException', `operation ${op} is not implemented by the fake`);
      }
    } catch (err) {
      const e = err instanceof ApiError ? err : err instanceof SqlError ? new ApiError('ValidationException', err.message) : new ApiError('InternalServerException', String(err), 500);
      res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': e.type, 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify({ __type: `com.amazonaws.timestream.v20181101#${e.type}`, message: e.message, ...e.extra }));
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  }

  private tableOf(body: Record<string, unknown>): Table {
    const db = str(body, 'DatabaseName');
    if (!this.databases.has(db)) throw new ApiError('ResourceNotFoundException', `The database ${db} does not exist.`);
    const t = this.tables.get(`${db}.${str(body, 'TableName')}`);
    if (!t) throw new ApiError('ResourceNotFoundException', `The table ${str(body, 'TableName')} does not exist.`);
    return t;
  }

  private createDatabase(body: Record<string, unknown>) {
    allowKeys(body, ['DatabaseName', 'KmsKeyId', 'Tags']);
    const db = str(body, 'DatabaseName');
    if (this.databases.has(db)) throw new ApiError('ConflictException', `The database ${db} already exists.`);
    this.databases.add(db);
    return { Database: { Arn: `arn:aws:timestream:us-east-1:000000000000:database/${db}`, DatabaseName: db, TableCount: 0, CreationTime: Date.now() / 1000 } };
  }

  private createTable(body: Record<string, unknown>) {
    allowKeys(body, ['DatabaseName', 'TableName', 'RetentionProperties', 'MagneticStoreWriteProperties', 'Schema', 'Tags']);
    const db = str(body, 'DatabaseName');
    const name = str(body, 'TableName');
    if (!this.databases.has(db)) throw new ApiError('ResourceNotFoundException', `The database ${db} does not exist.`);
    if (this.tables.has(`${db}.${name}`)) throw new ApiError('ConflictException', `The table ${name} already exists.`);
    const r = (body.RetentionProperties ?? { MemoryStoreRetentionPeriodInHours: 6, MagneticStoreRetentionPeriodInDays: 73000 }) as Record<string, unknown>;
    allowKeys(r, ['MemoryStoreRetentionPeriodInHours', 'MagneticStoreRetentionPeriodInDays']);
    const memoryHours = r.MemoryStoreRetentionPeriodInHours;
    const magneticDays = r.MagneticStoreRetentionPeriodInDays;
    if (!Number.isInteger(memoryHours) || (memoryHours as number) < 1 || (memoryHours as number) > 8766) throw new ApiError('ValidationException', 'MemoryStoreRetentionPeriodInHours must be 1 to 8766');
    if (!Number.isInteger(magneticDays) || (magneticDays as number) < 1 || (magneticDays as number) > 73000) throw new ApiError('ValidationException', 'MagneticStoreRetentionPeriodInDays must be 1 to 73000');
    const m = (body.MagneticStoreWriteProperties ?? {}) as Record<string, unknown>;
    allowKeys(m, ['EnableMagneticStoreWrites', 'MagneticStoreRejectedDataLocation']);
    const t: Table = { database: db, name, memoryHours: memoryHours as number, magneticDays: magneticDays as number, magneticWrites: m.EnableMagneticStoreWrites === true, created: Date.now() / 1000, records: new Map(), dims: new Set(), measures: new Map() };
    this.tables.set(`${db}.${name}`, t);
    return { Table: this.tableDescription(t) };
  }

  private tableDescription(t: Table) {
    return {
      Arn: `arn:aws:timestream:us-east-1:000000000000:database/${t.database}/table/${t.name}`,
      TableName: t.name, DatabaseName: t.database, TableStatus: 'ACTIVE',
      RetentionProperties: { MemoryStoreRetentionPeriodInHours: t.memoryHours, MagneticStoreRetentionPeriodInDays: t.magneticDays },
      MagneticStoreWriteProperties: { EnableMagneticStoreWrites: t.magneticWrites },
      CreationTime: t.created, LastUpdatedTime: t.created,
    };
  }

  private describeTable(body: Record<string, unknown>) {
    allowKeys(body, ['DatabaseName', 'TableName']);
    return { Table: this.tableDescription(this.tableOf(body)) };
  }

  private writeRecords(body: Record<string, unknown>) {
    allowKeys(body, ['DatabaseName', 'TableName', 'Records', 'CommonAttributes']);
    const t = this.tableOf(body);
    if (body.CommonAttributes !== undefined) throw new ApiError('ValidationException', 'the fake does not implement CommonAttributes');
    const records = body.Records;
    if (!Array.isArray(records) || records.length < 1 || records.length > 100) throw new ApiError('ValidationException', '1 validation error detected: Value at \'records\' failed to satisfy constraint: Member must have length less than or equal to 100');
    if (this.throttleWrites > 0) {
      this.throttleWrites--;
      this.throttled++;
      throw new ApiError('ThrottlingException', 'Rate exceeded');
    }
    const now = BigInt(this.now ?? Date.now()) * 1_000_000n;
    const rejected: { RecordIndex: number; Reason: string; ExistingVersion?: number }[] = [];
    records.forEach((raw, index) => {
      const rec = parseRecord(raw);
      const memoryFrom = now - BigInt(t.memoryHours) * 3_600_000_000_000n;
      const magneticFrom = now - BigInt(t.magneticDays) * 86_400_000_000_000n;
      const from = t.magneticWrites ? magneticFrom : memoryFrom;
      if (rec.time < from || rec.time > now + 15n * 60_000_000_000n) {
        return void rejected.push({ RecordIndex: index, Reason: `The record timestamp is outside the time range [${iso(from)}, ${iso(now + 15n * 60_000_000_000n)}) of the data ingestion window.` });
      }
      const size = [...rec.dims].reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) + Buffer.byteLength(rec.measureName) + rec.measures.reduce((n, m) => n + Buffer.byteLength(m.name) + Buffer.byteLength(m.value), 0) + 8;
      if (size > 2048) return void rejected.push({ RecordIndex: index, Reason: `Record size ${size} exceeds the maximum of 2048 bytes.` });
      const key = `${[...rec.dims].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('\u0001')}\u0000${rec.measureName}\u0000${rec.time}`;
      const prev = t.records.get(key);
      if (prev) {
        const same = JSON.stringify(prev.measures) === JSON.stringify(rec.measures);
        if (rec.version < prev.version || (rec.version === prev.version && !same)) {
          return void rejected.push({ RecordIndex: index, Reason: 'A record with the same dimensions, measure name and time already exists with a higher or equal version and other measure values.', ExistingVersion: prev.version });
        }
      }
      for (const k of rec.dims.keys()) t.dims.add(k);
      for (const m of rec.measures) {
        const had = t.measures.get(m.name);
        if (had && had !== m.type) return void rejected.push({ RecordIndex: index, Reason: `Measure ${m.name} has type ${m.type}, the table has ${had}.` });
        t.measures.set(m.name, m.type);
      }
      t.records.set(key, rec);
    });
    if (rejected.length) throw new ApiError('RejectedRecordsException', 'One or more records have been rejected. See RejectedRecords for details.', 419, { RejectedRecords: rejected });
    return { RecordsIngested: { Total: records.length, MemoryStore: records.length, MagneticStore: 0 } };
  }

  private query(body: Record<string, unknown>) {
    allowKeys(body, ['QueryString', 'ClientToken', 'NextToken', 'MaxRows', 'QueryInsightsMode']);
    const sql = str(body, 'QueryString');
    const maxRows = body.MaxRows === undefined ? 1000 : body.MaxRows;
    if (!Number.isInteger(maxRows) || (maxRows as number) < 1 || (maxRows as number) > 1000) throw new ApiError('ValidationException', 'MaxRows must be 1 to 1000');
    let result;
    if (body.NextToken !== undefined) {
      result = this.results.get(str(body, 'NextToken'));
      if (!result || result.sql !== sql) throw new ApiError('ValidationException', 'Invalid NextToken (or a QueryString other than the query it continues)');
      this.results.delete(str(body, 'NextToken'));
    } else {
      const q = parseSelect(sql);
      if (!this.databases.has(q.database)) throw new ApiError('ValidationException', `line 1: Database '${q.database}' does not exist`);
      const t = this.tables.get(`${q.database}.${q.table}`);
      if (!t) throw new ApiError('ValidationException', `line 1: Table '${q.database}.${q.table}' does not exist`);
      const colNames = [...t.dims, 'measure_name', 'time', ...t.measures.keys()];
      const columns = new Set(colNames);
      const rows: { time: bigint; id: string; data: unknown[] }[] = [];
      for (const r of t.records.values()) {
        const row: Record<string, string | bigint | undefined> = { measure_name: r.measureName, time: r.time };
        for (const [k, v] of r.dims) row[k] = v;
        for (const m of r.measures) row[m.name] = m.value;
        if (!evaluate(q.where, row, columns)) continue;
        rows.push({
          time: r.time,
          id: String(row.id ?? ''),
          data: colNames.map((c) => (row[c] === undefined ? { NullValue: true } : { ScalarValue: c === 'time' ? timestamp(r.time) : String(row[c]) })),
        });
      }
      rows.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const cut = q.limit !== undefined ? rows.slice(0, q.limit) : rows;
      const columnInfo = colNames.map((c) => ({ Name: c, Type: { ScalarType: c === 'time' ? 'TIMESTAMP' : c === 'measure_name' || t.dims.has(c) ? 'VARCHAR' : t.measures.get(c) } }));
      result = { sql, rows: cut.map((r) => r.data), columns: columnInfo, queryId: randomUUID(), offset: 0 };
    }
    const page = result.rows.slice(result.offset, result.offset + (maxRows as number));
    const next = result.offset + page.length < result.rows.length ? randomUUID() : undefined;
    if (next) this.results.set(next, { ...result, offset: result.offset + page.length });
    return {
      QueryId: result.queryId,
      ...(next ? { NextToken: next } : {}),
      Rows: page.map((data) => ({ Data: data })),
      ColumnInfo: result.columns,
      QueryStatus: { ProgressPercentage: 100, CumulativeBytesScanned: 0, CumulativeBytesMetered: 0 },
    };
  }
}

function allowKeys(o: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ApiError('ValidationException', `unexpected field ${k}`);
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new ApiError('ValidationException', `${k} must be a non-empty string`);
  return v;
}

function parseRecord(raw: unknown): StoredRecord {
  if (typeof raw !== 'object' || raw === null) throw new ApiError('ValidationException', 'a record is not an object');
  const r = raw as Record<string, unknown>;
  allowKeys(r, ['Dimensions', 'MeasureName', 'MeasureValue', 'MeasureValueType', 'MeasureValues', 'Time', 'TimeUnit', 'Version']);
  if (r.MeasureValueType !== 'MULTI' || r.MeasureValue !== undefined) throw new ApiError('ValidationException', 'the fake implements multi-measure records only (MeasureValueType MULTI, MeasureValues)');
  const dims = new Map<string, string>();
  for (const d of (r.Dimensions ?? []) as Record<string, unknown>[]) {
    allowKeys(d, ['Name', 'Value', 'DimensionValueType']);
    if (d.DimensionValueType !== undefined && d.DimensionValueType !== 'VARCHAR') throw new ApiError('ValidationException', 'DimensionValueType must be VARCHAR');
    const name = str(d, 'Name');
    const value = str(d, 'Value');
    if (Buffer.byteLength(value) > 2048) throw new ApiError('ValidationException', `dimension ${name}: value longer than 2048 bytes`);
    if (dims.has(name)) throw new ApiError('ValidationException', `dimension ${name} given twice`);
    dims.set(name, value);
  }
  const measures: Measure[] = [];
  const values = r.MeasureValues;
  if (!Array.isArray(values) || values.length < 1) throw new ApiError('ValidationException', 'MeasureValues must not be empty');
  for (const m of values as Record<string, unknown>[]) {
    allowKeys(m, ['Name', 'Value', 'Type']);
    const name = str(m, 'Name');
    const value = str(m, 'Value');
    const type = str(m, 'Type');
    if (!MEASURE_TYPES.has(type)) throw new ApiError('ValidationException', `measure ${name}: invalid Type ${type}`);
    if (Buffer.byteLength(value) > 2048) throw new ApiError('ValidationException', `measure ${name}: value longer than 2048 bytes`);
    if ((type === 'BIGINT' && !/^-?\d+$/.test(value)) || (type === 'DOUBLE' && !Number.isFinite(Number(value)))) throw new ApiError('ValidationException', `measure ${name}: "${value}" is not a ${type}`);
    if (dims.has(name)) throw new ApiError('ValidationException', `measure ${name} has the name of a dimension`);
    measures.push({ name, type, value });
  }
  const unit = r.TimeUnit ?? 'MILLISECONDS';
  if (typeof unit !== 'string' || !(unit in TIME_UNITS)) throw new ApiError('ValidationException', `invalid TimeUnit ${String(unit)}`);
  if (typeof r.Time !== 'string' || !/^\d+$/.test(r.Time)) throw new ApiError('ValidationException', 'Time must be a string of digits');
  if (r.Version !== undefined && (!Number.isInteger(r.Version) || (r.Version as number) < 1)) throw new ApiError('ValidationException', 'Version must be a positive integer');
  return { dims, measureName: str(r, 'MeasureName'), time: BigInt(r.Time) * TIME_UNITS[unit]!, version: (r.Version as number | undefined) ?? 1, measures };
}

function timestamp(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

function iso(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}
