import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { QueueClient } from '@azure/storage-queue';
import { readBody } from '../listen.js';

/**
 * A strict wire fake of the Kusto engine endpoints the azuredataexplorer exporter uses, written
 * from the public REST API docs (learn.microsoft.com/kusto/api/rest): POST /v1/rest/mgmt (v1
 * response: { Tables: [...] }), POST /v2/rest/query (v2 frames: DataSetHeader, DataTable,
 * DataSetCompletion), POST /v1/rest/ingest/{db}/{table}?streamFormat=&mappingName= (streaming
 * ingestion), GET /v1/rest/auth/metadata. Anything else, any management command or KQL shape it
 * does not implement, gets 400/404 with a Kusto-style error. It evaluates only the KQL the
 * exporter writes.
 */
export class FakeKusto {
  private server!: Server;
  port = 0;
  readonly tables = new Map<string, { columns: [string, string][]; rows: Record<string, unknown>[]; mappings: Map<string, string>; retention?: string; streaming?: boolean }>();
  readonly requests: string[] = [];
  /** The Authorization header of every request. */
  readonly authorizations: string[] = [];
  /** Refuse the next n streaming ingestions with 429 (throttling). */
  throttle = 0;
  /** Refuse the next n management commands with 429 (throttling). */
  throttleMgmt = 0;
  /** The data management resources `.get ingestion resources` returns (SAS URIs, e.g. on Azurite). */
  ingestionResources?: { queue: string; container: string; statusTable: string };
  /** ingest-by: tags of the ingested extents (for ingestIfNotExists). */
  readonly extentTags = new Set<string>();
  /** Queued ingestion messages seen, and those dropped by ingestIfNotExists. */
  queued = { messages: 0, skipped: 0 };

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res).catch((err) => this.fail(res, 500, String(err))));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private fail(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: status === 429 ? 'Throttled' : 'BadRequest', message, '@type': 'Kusto.Data.Exceptions.KustoBadRequestException', '@permanent': status !== 429 } }));
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const b = await readBody(req);
    return req.headers['content-encoding'] === 'gzip' ? gunzipSync(b) : b;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.uri);
    this.requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization) this.authorizations.push(req.headers.authorization);
    if (req.method === 'GET' && url.pathname === '/v1/rest/auth/metadata') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') return this.fail(res, 405, `${req.method} not supported`);
    if (!/^Bearer \S+$/.test(String(req.headers.authorization ?? ''))) return this.fail(res, 401, 'missing bearer token');
    const ingest = /^\/v1\/rest\/ingest\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (ingest) return this.streamingIngest(ingest[1]!, decodeURIComponent(ingest[2]!), url, await this.body(req), res);
    const raw = JSON.parse((await this.body(req)).toString('utf8')) as { db?: string; csl?: string; properties?: unknown };
    if (typeof raw.csl !== 'string') return this.fail(res, 400, 'csl missing');
    const props = (typeof raw.properties === 'string' ? JSON.parse(raw.properties) : raw.properties ?? {}) as { Parameters?: Record<string, string> };
    if (url.pathname === '/v1/rest/mgmt') {
      if (this.throttleMgmt > 0) {
        this.throttleMgmt--;
        return this.fail(res, 429, 'throttled');
      }
      return this.mgmt(raw.csl, res);
    }
    if (url.pathname === '/v2/rest/query') {
      await this.drainQueued();
      return this.query(raw.csl, props.Parameters ?? {}, res);
    }
    return this.fail(res, 404, `${url.pathname} not implemented by the fake`);
  }

  private streamingIngest(db: string, table: string, url: URL, body: Buffer, res: ServerResponse): void {
    void db;
    if (this.throttle > 0) {
      this.throttle--;
      return this.fail(res, 429, 'throttled');
    }
    const t = this.tables.get(table);
    if (!t) return this.fail(res, 400, `table ${table} not found`);
    if (!t.streaming) return this.fail(res, 400, 'streaming ingestion policy is not enabled');
    if ((url.searchParams.get('streamFormat') ?? '').toLowerCase() !== 'multijson') return this.fail(res, 400, 'streamFormat must be multijson');
    const mapping = url.searchParams.get('mappingName');
    if (!mapping || !t.mappings.has(mapping)) return this.fail(res, 400, `mapping ${mapping} not found`);
    this.appendRows(t, body);
    this.v1(res, [['Table_0', [], []]]);
  }

  private v1(res: ServerResponse, tables: [string, [string, string][], unknown[][]][]): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ Tables: tables.map(([TableName, cols, Rows]) => ({ TableName, Columns: cols.map(([ColumnName, ColumnType]) => ({ ColumnName, DataType: 'String', ColumnType })), Rows })) }));
  }

  /**
   * What the DM service does with queued ingestion: read the queue's messages (base64 JSON naming
   * a blob, database, table and properties), download each blob and append its rows, honouring
   * ingestIfNotExists / ingest-by tags.
   */
  async drainQueued(): Promise<void> {
    if (!this.ingestionResources) return;
    const q = new QueueClient(this.ingestionResources.queue);
    for (;;) {
      const got = await q.receiveMessages({ numberOfMessages: 32 });
      if (got.receivedMessageItems.length === 0) return;
      for (const m of got.receivedMessageItems) {
        const msg = JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as {
          Id: string; BlobPath: string; DatabaseName: string; TableName: string; RawDataSize?: number;
          AdditionalProperties?: { format?: string; ingestionMappingReference?: string; tags?: string; ingestIfNotExists?: string; authorizationContext?: string };
        };
        for (const k of ['Id', 'BlobPath', 'DatabaseName', 'TableName'] as const) if (typeof msg[k] !== 'string') throw new Error(`queued message without ${k}`);
        this.queued.messages++;
        const props = msg.AdditionalProperties ?? {};
        if (!props.authorizationContext) throw new Error('queued message without authorizationContext');
        const t = this.tables.get(msg.TableName);
        if (!t) throw new Error(`table ${msg.TableName} not found`);
        if ((props.format ?? '').toLowerCase() !== 'multijson') throw new Error(`format ${props.format} not supported by the fake`);
        if (!props.ingestionMappingReference || !t.mappings.has(props.ingestionMappingReference)) throw new Error('mapping missing');
        const tags = props.tags ? (JSON.parse(props.tags) as string[]) : [];
        const ifNot = props.ingestIfNotExists ? (JSON.parse(props.ingestIfNotExists) as string[]) : [];
        await q.deleteMessage(m.messageId, m.popReceipt);
        if (ifNot.some((tag) => this.extentTags.has(`ingest-by:${tag}`))) {
          this.queued.skipped++;
          continue;
        }
        const blob = await fetch(msg.BlobPath);
        if (!blob.ok) throw new Error(`blob ${msg.BlobPath}: ${blob.status}`);
        let data = Buffer.from(await blob.arrayBuffer());
        if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
        this.appendRows(t, data);
        for (const tag of tags) this.extentTags.add(tag);
      }
    }
  }

  private appendRows(t: { columns: [string, string][]; rows: Record<string, unknown>[] }, body: Buffer): void {
    const now = Date.now();
    for (const line of body.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line) as Record<string, unknown>;
      const row: Record<string, unknown> = { $ingestion_time: now };
      for (const [c] of t.columns) row[c] = o[c] ?? null;
      t.rows.push(row);
    }
  }

  private mgmt(csl: string, res: ServerResponse): void {
    let m: RegExpExecArray | null;
    if (csl === '.get ingestion resources') {
      const r = this.ingestionResources;
      if (!r) return this.fail(res, 400, 'this fake has no ingestion resources');
      return this.v1(res, [['Table_0', [['ResourceTypeName', 'string'], ['StorageRoot', 'string']], [
        ['SecuredReadyForAggregationQueue', r.queue], ['FailedIngestionsQueue', r.queue], ['SuccessfulIngestionsQueue', r.queue],
        ['TempStorage', r.container], ['IngestionsStatusTable', r.statusTable],
      ]]]);
    }
    if (csl === '.get kusto identity token') {
      return this.v1(res, [['Table_0', [['AuthorizationContext', 'string']], [['fake-authorization-context']]]]);
    }
    if ((m = /^\.create-merge table \['([^']+)'\] \((.*)\)$/.exec(csl))) {
      const columns = m[2]!.split(', ').map((c) => /^\['([^']+)'\]:(\w+)$/.exec(c)).map((x) => [x![1]!, x![2]!] as [string, string]);
      if (!this.tables.has(m[1]!)) this.tables.set(m[1]!, { columns, rows: [], mappings: new Map() });
      return this.v1(res, [['Table_0', [['TableName', 'string']], [[m[1]]]]]);
    }
    if ((m = /^\.create-or-alter table \['([^']+)'\] ingestion json mapping '([^']+)' '(.*)'$/s.exec(csl))) {
      const t = this.tables.get(m[1]!);
      if (!t) return this.fail(res, 400, 'table not found');
      JSON.parse(m[3]!);
      t.mappings.set(m[2]!, m[3]!);
      return this.v1(res, [['Table_0', [['Name', 'string']], [[m[2]]]]]);
    }
    if ((m = /^\.alter-merge table \['([^']+)'\] policy retention softdelete = (\d+d) recoverability = disabled$/.exec(csl))) {
      const t = this.tables.get(m[1]!);
      if (!t) return this.fail(res, 400, 'table not found');
      t.retention = m[2]!;
      return this.v1(res, [['Table_0', [['PolicyName', 'string']], [['RetentionPolicy']]]]);
    }
    if ((m = /^\.alter table \['([^']+)'\] policy streamingingestion enable$/.exec(csl))) {
      const t = this.tables.get(m[1]!);
      if (!t) return this.fail(res, 400, 'table not found');
      t.streaming = true;
      return this.v1(res, [['Table_0', [['PolicyName', 'string']], [['StreamingIngestionPolicy']]]]);
    }
    if ((m = /^\.show table \['([^']+)'\] policy retention$/.exec(csl))) {
      const t = this.tables.get(m[1]!);
      if (!t) return this.fail(res, 400, 'table not found');
      const days = Number(t.retention?.replace('d', '') ?? 0);
      return this.v1(res, [['Table_0', [['PolicyName', 'string'], ['EntityName', 'string'], ['Policy', 'string']], [['RetentionPolicy', m[1], JSON.stringify({ SoftDeletePeriod: `${days}.00:00:00`, Recoverability: 'Disabled' })]]]]);
    }
    return this.fail(res, 400, `management command not implemented by the fake: ${csl.slice(0, 80)}`);
  }

  private query(csl: string, params: Record<string, string>, res: ServerResponse): void {
    const lines = csl.split('\n');
    const declared = new Map<string, string>();
    if (lines[0]?.startsWith('declare query_parameters(')) {
      const m = /^declare query_parameters\((.*)\);$/.exec(lines.shift()!);
      if (!m) return this.fail(res, 400, 'bad declare');
      for (const d of m[1]!.split(', ')) {
        const [n, t] = d.split(':');
        if (!(n! in params)) return this.fail(res, 400, `parameter ${n} declared but not given`);
        declared.set(n!, t!);
      }
    }
    const tm = /^\['([^']+)'\]$/.exec(lines.shift() ?? '');
    const t = tm ? this.tables.get(tm[1]!) : undefined;
    if (!t) return this.fail(res, 400, 'unknown table');
    // Parameter values are literals of their declared type: a string as it is, a long's digits,
    // a datetime as datetime(…) (learn.microsoft.com/kusto/api/netfx/request-properties).
    for (const [n, type] of declared) {
      const v = params[n]!;
      if (type === 'long' && !/^-?\d+$/.test(v)) return this.fail(res, 400, `parameter ${n}: '${v}' is not a long literal`);
      if (type === 'datetime' && !(/^datetime\((.+)\)$/.test(v) && Number.isFinite(Date.parse(/^datetime\((.+)\)$/.exec(v)![1]!)))) return this.fail(res, 400, `parameter ${n}: '${v}' is not a datetime literal`);
    }
    const P = (n: string) => {
      if (!declared.has(n)) throw new Error(`undeclared ${n}`);
      const v = params[n]!;
      return declared.get(n) === 'datetime' ? /^datetime\((.+)\)$/.exec(v)![1]! : v;
    };
    // A datetime as Kusto holds it (100 ns ticks), as text that sorts as the instants do.
    const instant = (ts: string) => `${ts.slice(0, 19)}.${(/^\.(\d{1,7})/.exec(ts.slice(19))?.[1] ?? '').padEnd(7, '0')}`;
    let rows = [...t.rows];
    let cols: [string, string][] = t.columns;
    const str = (r: Record<string, unknown>, c: string) => String(r[c] ?? '');
    // summarize … by keys: count() and countif(err) per distinct key, the keys' columns first
    const summarize = (keys: [string, string][], keyOf: (r: Record<string, unknown>) => unknown[]) => {
      const groups = new Map<string, Record<string, unknown>>();
      for (const r of rows) {
        const k = keyOf(r);
        const id = JSON.stringify(k);
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { ...Object.fromEntries(keys.map(([c], i) => [c, k[i]])), calls: 0, errors: 0 }));
        (g.calls as number)++;
        if (r.err === true) (g.errors as number)++;
      }
      rows = [...groups.values()];
      cols = [...keys, ['calls', 'long'], ['errors', 'long']];
    };
    for (const line of lines) {
      let m: RegExpExecArray | null;
      if ((m = /^\| where ts (>=|<) (p_start|p_end)$/.exec(line))) {
        const v = P(m[2]!);
        const bound = instant(v);
        rows = rows.filter((r) => (m![1] === '>=' ? instant(str(r, 'ts_text')) >= bound : instant(str(r, 'ts_text')) < bound));
      } else if ((m = /^\| where (cluster|namespace|service|direction|l7protocol) == (p_\w+)$/.exec(line))) {
        const v = P(m[2]!);
        rows = rows.filter((r) => str(r, m![1]!) === v);
      } else if ((m = /^\| where (command|status|location) matches regex (p_\w+)$/.exec(line))) {
        const re = new RegExp(P(m[2]!));
        rows = rows.filter((r) => re.test(str(r, m![1]!)));
      } else if ((m = /^\| where id == (p_id)$/.exec(line))) {
        const v = P(m[1]!);
        rows = rows.filter((r) => r.id === v);
      } else if (line === '| where (ts_text > p_after_ts or (ts_text == p_after_ts and id > p_after_id))') {
        const ts = P('p_after_ts');
        const id = P('p_after_id');
        rows = rows.filter((r) => str(r, 'ts_text') > ts || (str(r, 'ts_text') === ts && str(r, 'id') > id));
      } else if (line === '| summarize arg_max(ingestion_time(), *) by id') {
        const by = new Map<string, Record<string, unknown>>();
        for (const r of rows) {
          const prev = by.get(str(r, 'id'));
          if (!prev || (prev.$ingestion_time as number) <= (r.$ingestion_time as number)) by.set(str(r, 'id'), r);
        }
        rows = [...by.values()];
      } else if (line === '| project-away max_ingestion_time') {
        // arg_max's extra column: the fake never adds it
      } else if (line === '| order by ts_text asc, id asc') {
        rows.sort((a, b) => (str(a, 'ts_text') < str(b, 'ts_text') ? -1 : str(a, 'ts_text') > str(b, 'ts_text') ? 1 : str(a, 'id') < str(b, 'id') ? -1 : str(a, 'id') > str(b, 'id') ? 1 : 0));
      } else if (line === "| extend err = iff(status matches regex @'^[0-9]+$', todouble(status) >= 500, isnotempty(status) and not(status =~ 'ok' or status =~ 'success'))") {
        // iff(a, b, c); `=~` equals ignoring case; todouble of a digit string is its value
        rows = rows.map((r) => {
          const st = str(r, 'status');
          return { ...r, err: /^[0-9]+$/.test(st) ? Number(st) >= 500 : st !== '' && !(st.toLowerCase() === 'ok' || st.toLowerCase() === 'success') };
        });
        cols = [...cols, ['err', 'bool']];
      } else if (line === '| summarize calls = count(), errors = countif(err) by b = tolong(floor((ts - p_hstart) / 1ms / p_step, 1))') {
        // datetime keeps 100 ns ticks; a timespan divided by 1ms is a real; floor(x, 1) rounds down
        const start = Date.parse(P('p_hstart'));
        const step = Number(P('p_step'));
        if (!(Number.isFinite(start) && Number.isInteger(step) && step > 0)) return this.fail(res, 400, 'bad p_hstart or p_step');
        const sinceStart = (ts: string) => Date.parse(`${ts.slice(0, 19)}Z`) - start + Number((/^\.(\d{1,7})/.exec(ts.slice(19))?.[1] ?? '').padEnd(7, '0')) / 10_000;
        summarize([['b', 'long']], (r) => [Math.floor(sinceStart(str(r, 'ts_text')) / step)]);
      } else if (line === '| summarize calls = count(), errors = countif(err) by service, direction, host, l7protocol') {
        summarize([['service', 'string'], ['direction', 'string'], ['host', 'string'], ['l7protocol', 'string']], (r) => [str(r, 'service'), str(r, 'direction'), str(r, 'host'), str(r, 'l7protocol')]);
      } else if ((m = /^\| order by (ts_text|service|direction|command|location|status|coalesce\((duration), 0\.0\)|coalesce\((req_size|res_size), long\(0\)\)) (asc|desc), ts_text asc, id asc$/.exec(line))) {
        // strings compare ordinally; coalesce(x, 0) makes a missing number 0
        const num = m[2] ?? m[3];
        const col = num ?? m[1]!;
        const dir = m[4] === 'desc' ? -1 : 1;
        const key = (r: Record<string, unknown>) => (num ? Number(r[col] ?? 0) : str(r, col));
        const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
        rows.sort((a, b) => dir * cmp(key(a), key(b)) || cmp(str(a, 'ts_text'), str(b, 'ts_text')) || cmp(str(a, 'id'), str(b, 'id')));
      } else if (line === '| extend rn = row_number()') {
        rows = rows.map((r, i) => ({ ...r, rn: i + 1 }));
        cols = [...cols, ['rn', 'long']];
      } else if (line === '| where rn > p_first and rn <= p_last') {
        const first = Number(P('p_first'));
        const last = Number(P('p_last'));
        rows = rows.filter((r) => (r.rn as number) > first && (r.rn as number) <= last);
      } else if (line === '| count') {
        rows = [{ Count: rows.length }];
        cols = [['Count', 'long']];
      } else if ((m = /^\| take (\d+)$/.exec(line))) {
        rows = rows.slice(0, Number(m[1]));
      } else {
        return this.fail(res, 400, `KQL not implemented by the fake: ${line}`);
      }
    }
    const frames = [
      { FrameType: 'DataSetHeader', IsProgressive: false, Version: 'v2.0' },
      { FrameType: 'DataTable', TableId: 0, TableKind: 'PrimaryResult', TableName: 'PrimaryResult', Columns: cols.map(([ColumnName, ColumnType]) => ({ ColumnName, ColumnType })), Rows: rows.map((r) => cols.map(([c]) => r[c] ?? null)) },
      { FrameType: 'DataSetCompletion', HasErrors: false, Cancelled: false },
    ];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(frames));
  }
}
