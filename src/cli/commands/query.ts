import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { builtinRegistry } from '../../components.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import type { Component, ExporterFactory, Host } from '../../core/component.js';
import { hasOpenReader, isQueryableStore, withDeadline, type QueryFilter, type QueryHit, type StoreReader } from '../../core/query.js';
import { parseDuration } from '../../config/units.js';
import { noopMetrics } from '../../core/telemetry.js';
import { ArchiveFetcher } from '../../helpers/archive-fetch.js';
import { filterFromParams } from '../../helpers/query-params.js';
import type { RRPair } from '../../rrpair/types.js';
import { defaultConfigPath, UsageError, type CliCommand } from '../command.js';
import { archiveConnections } from '../../helpers/archive-connections.js';

const PAGE = 1000;

/** A store opened by the CLI, with the fetcher of the RRPairs it keeps only by archive_uri. */
export type CliStore = StoreReader & { archive: ArchiveFetcher };

/** Open the short-term store an exporter of the config writes to, for reading. */
export async function openStore(files: string[], id: string): Promise<CliStore> {
  const registry = await builtinRegistry({ lazy: true });
  const cfg = await loadConfig(files, { registry });
  const c = cfg.components.exporters.get(id);
  if (!c) {
    const ids = [...cfg.components.exporters.keys()];
    throw new UsageError(`no exporter "${id}" in ${files.join(', ')} (exporters: ${ids.join(', ') || 'none'})`);
  }
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const settings = { id, kind: 'exporter' as const, config: structuredClone(c.config), logger, metrics: noopMetrics(), configDir: cfg.configDir };
  const archive = new ArchiveFetcher(archiveConnections(cfg));
  if (hasOpenReader(c.factory)) return Object.assign(await c.factory.openReader(settings, { dataDir: cfg.dataDir }), { archive });
  // No read-only opener: start the exporter itself (it may create what it needs) and stop it after.
  const comp: Component = await (c.factory as ExporterFactory<unknown>).create(settings);
  if (!isQueryableStore(comp)) throw new UsageError(`exporter "${id}" (type ${c.type}) is not a queryable short-term store`);
  const host: Host = {
    getExtension: () => undefined,
    getExporter: () => undefined,
    reportStatus: () => {},
    status: () => ({ running: true, pipelines: {}, components: {} }),
    dataDir: cfg.dataDir,
    oneShot: true,
  };
  await comp.start(host);
  return {
    archive,
    query: (f, o) => comp.query(f, o),
    ...(comp.get ? { get: (rid: string, o?: { signal?: AbortSignal }) => comp.get!(rid, o) } : {}),
    close: () => comp.shutdown(AbortSignal.timeout(10_000)),
  };
}

/** Every hit of a filter, page by page, up to limit (0 = all). */
export async function* allHits(store: StoreReader, filter: QueryFilter, limit: number, pageTimeoutMs = 0): AsyncGenerator<QueryHit> {
  let left = limit > 0 ? limit : Infinity;
  let after = filter.after;
  while (left > 0) {
    const f = { ...filter, limit: Math.min(PAGE, left), ...(after ? { after } : {}) };
    const page = await withDeadline(pageTimeoutMs, (signal) => store.query(f, { signal }));
    for (const h of page.hits.slice(0, Math.min(page.hits.length, left))) yield h;
    left -= page.hits.length;
    if (!page.next || page.hits.length === 0) return;
    after = page.next;
  }
}

/** The full RRPair of a hit: from the hit, from the store, or from long-term storage through archive_uri. */
export async function fullRRPair(store: StoreReader & { archive?: ArchiveFetcher }, hit: QueryHit): Promise<RRPair> {
  if (hit.rrpair) return hit.rrpair;
  const fromStore = store.get ? await store.get(hit.doc.id) : undefined;
  if (fromStore) return fromStore;
  if (hit.doc.archive_uri) return (store.archive ?? new ArchiveFetcher()).fetch(hit.doc.archive_uri);
  throw new Error(`RRPair ${hit.doc.id}: the store does not keep it and it has no archive_uri`);
}

const COLUMNS = ['ts', 'direction', 'service', 'command', 'location', 'status', 'duration', 'id'] as const;

function tableRow(h: QueryHit): string[] {
  return COLUMNS.map((c) => (c === 'duration' ? `${h.doc.duration}ms` : String(h.doc[c] ?? '')));
}

export const query: CliCommand = {
  name: 'query',
  summary: 'search a short-term store (embedded, opensearch, elasticsearch…) of a config; print a table, JSON lines or raw.jsonl',
  usage: `rrpipe query --store EXPORTER_ID [-c FILE]... [filters] [--limit N] [--output table|jsonl|raw] [--out FILE]

  --store ID          the exporter (in the config) whose store to search, e.g. embedded or opensearch/hot
  -c, --config FILE   config file(s), as for rrpipe run (default: the embedded default config)
  --start T           from T (inclusive): -1h, -30m, -7d, RFC 3339, epoch ms (default -1h)
  --end T             until T (exclusive); default now
  --cluster S, --namespace S, --service S     exact match
  --direction IN|OUT
  --protocol S        exact match on l7protocol (http, grpc, postgres…)
  --method REGEX      on command (HTTP method, gRPC method, Query)
  --status REGEX      on status (e.g. '^5')
  --endpoint REGEX    on location (path, gRPC path, SQL)
  --limit N           at most N results (default 100; 0 = all)
  --output FORMAT     table (default), jsonl (index documents), raw (full RRPairs as raw.jsonl)
  --out FILE          write there instead of stdout
  --timeout D         stop a page query running longer than D (default 30s; 0 = no limit)

Exit codes: 0 done, 1 an RRPair could not be fetched (raw) or the store failed, 2 bad usage.`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c', multiple: true },
        store: { type: 'string' },
        start: { type: 'string', default: '-1h' },
        end: { type: 'string' },
        cluster: { type: 'string' },
        namespace: { type: 'string' },
        service: { type: 'string' },
        direction: { type: 'string' },
        protocol: { type: 'string' },
        method: { type: 'string' },
        status: { type: 'string' },
        endpoint: { type: 'string' },
        limit: { type: 'string', default: '100' },
        output: { type: 'string', short: 'o', default: 'table' },
        out: { type: 'string' },
        timeout: { type: 'string', default: '30s' },
      },
    });
    if (!values.store) throw new UsageError('--store is required');
    const output = values.output!;
    if (!['table', 'jsonl', 'raw'].includes(output)) throw new UsageError(`invalid --output "${output}" (table, jsonl or raw)`);
    let filter: QueryFilter;
    try {
      const { config: _c, timeout: _t, ...params } = values;
      filter = filterFromParams(params);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(values.timeout!);
    } catch (err) {
      throw new UsageError(`invalid --timeout: ${(err as Error).message}`);
    }
    const limit = filter.limit ?? 100;
    delete filter.limit;
    const files = values.config?.length ? values.config : [defaultConfigPath()];
    let store: CliStore;
    try {
      store = await openStore(files, values.store);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        return 1;
      }
      if (err instanceof UsageError) throw err;
      console.error(`rrpipe query: ${(err as Error).message}`);
      return 1;
    }
    const out = values.out ? createWriteStream(values.out) : process.stdout;
    const write = (s: string) => new Promise<void>((r, j) => {
      if (out.write(s)) return r();
      const onError = (err: Error) => {
        out.off('drain', onDrain);
        j(err);
      };
      const onDrain = () => {
        out.off('error', onError);
        r();
      };
      out.once('drain', onDrain).once('error', onError);
    });
    let code = 0;
    let n = 0;
    try {
      const rows: string[][] = [];
      for await (const hit of allHits(store, filter, limit, timeoutMs)) {
        n++;
        if (output === 'table') rows.push(tableRow(hit));
        else if (output === 'jsonl') await write(JSON.stringify(hit.doc) + '\n');
        else {
          try {
            await write(JSON.stringify(await fullRRPair(store, hit)) + '\n');
          } catch (err) {
            console.error(`rrpipe query: ${(err as Error).message}`);
            code = 1;
          }
        }
      }
      if (output === 'table') {
        const all = [COLUMNS.map((c) => c.toUpperCase()), ...rows];
        const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
        await write(all.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n');
      }
    } catch (err) {
      console.error(`rrpipe query: ${(err as Error).message}`);
      code = 1;
    } finally {
      await store.close().catch(() => undefined);
      if (out !== process.stdout) await new Promise<void>((r) => out.end(r));
    }
    if (output !== 'table' || values.out) console.error(`${n} result${n === 1 ? '' : 's'}`);
    return code;
  },
};
