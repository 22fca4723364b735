import { parseArgs } from 'node:util';
import { FILTER_FIELDS, type RecordFilterConfig } from '../../layouts/filter.js';
import { LAYOUTS, type LayoutName } from '../../layouts/layout.js';
import { defaultLogQL, isLokiUri, parseLokiUri, readLoki } from '../../layouts/loki.js';
import { buildSnapshot, type SnapshotOptions } from '../../layouts/snapshot.js';
import { openLocation } from '../../layouts/uri.js';
import { parseTime } from '../../layouts/window.js';
import type { CliCommand } from '../command.js';
import { snapshotFromStore } from './snapshot-store.js';

export function progressBar(done: number, total: number, extra: string): void {
  if (!process.stderr.isTTY) return;
  const w = 30;
  const f = total ? Math.round((done / total) * w) : w;
  process.stderr.write(`\r[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total} objects ${extra}   `);
}

export const snapshot: CliCommand = {
  name: 'snapshot',
  summary: 'build one raw.jsonl (or a proxymock directory) of a time window from a long-term archive',
  usage: `rrpipe snapshot --from <s3://…|gs://…|azblob://…|abfss://…|DIR|loki://…> --start T [--end T] --out FILE|DIR [options]
       rrpipe snapshot -c FILE --from EXPORTER_ID --start T [--end T] --out FILE [filters]

  --from URI           archive root (prefix) in any layout, or
                       loki://host:port[?query=<LogQL>&tenant=<org id>] (loki+https:// for TLS):
                       what the loki exporter wrote, read with query_range (default query
                       {service=~".+"} | json, stream matchers from --cluster/--service/--namespace)
  --from EXPORTER_ID   with -c: a short-term store of that config (awsdynamodb, embedded, opensearch/hot…);
                       raw_jsonl in (ts, id) order, RRPairs from the store or through archive_uri; end exclusive
  -c, --config FILE    the config that names the store
  --start, --end       RFC 3339 or relative (-6h); end defaults to now
  --layout L           auto (from the manifest), ${LAYOUTS.join(', ')}
  --format F           raw_jsonl (default: one file, ordered by ts, no duplicate uuid) or proxymock (a directory)
  --out PATH           output file (raw_jsonl) or directory (proxymock)
  --${FILTER_FIELDS.join(', --')} V   filters (repeatable; "*" globs); a record with no cluster,
                       namespace or service has "unknown" there, as the archive's partitions
  --endpoint URL       custom endpoint (S3 API, GCS emulator, Azure blob service)
  --parallel N         objects read at once (default 8)
  --spill N            records held in memory before a sorted run spills to disk (default 200000;
                       a run also spills past 32 MiB of records, so memory stays flat)`,
  async run(args) {
    const filterOpts = Object.fromEntries(FILTER_FIELDS.map((f) => [f, { type: 'string' as const, multiple: true as const }]));
    const { values } = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c', multiple: true }, from: { type: 'string' }, start: { type: 'string' }, end: { type: 'string' }, layout: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, endpoint: { type: 'string' }, parallel: { type: 'string' }, spill: { type: 'string' }, ...filterOpts },
    });
    const v = values as Record<string, string | string[] | undefined>;
    if (!v.from || !v.start || !v.out) {
      console.error('usage: rrpipe snapshot --from URI --start T [--end T] --out PATH');
      return 2;
    }
    const format = (v.format as string | undefined) ?? 'raw_jsonl';
    if (format !== 'raw_jsonl' && format !== 'proxymock') {
      console.error('rrpipe snapshot: --format must be raw_jsonl or proxymock');
      return 2;
    }
    const layout = ((v.layout as string | undefined) ?? 'auto') as LayoutName | 'auto';
    if (layout !== 'auto' && !LAYOUTS.includes(layout)) {
      console.error(`rrpipe snapshot: --layout must be auto or one of ${LAYOUTS.join(', ')}`);
      return 2;
    }
    const filter: RecordFilterConfig = {};
    for (const f of FILTER_FIELDS) if (v[f]) filter[f] = v[f] as string[];
    const files = values.config as string[] | undefined;
    if (files?.length && !/^[a-z][a-z0-9+.-]*:\/\//i.test(v.from as string)) {
      if (format !== 'raw_jsonl') {
        console.error('rrpipe snapshot: from a short-term store, --format is raw_jsonl');
        return 2;
      }
      try {
        const now = Date.now();
        const res = await snapshotFromStore({
          files, id: v.from as string, filter, out: v.out as string,
          startMs: parseTime(v.start as string, now, '--start'), endMs: parseTime(v.end as string | undefined, now, '--end'),
        });
        for (const p of res.problems.slice(0, 50)) console.error(`rrpipe snapshot: ${p}`);
        console.error(`rrpipe snapshot: ${res.records} records from store ${v.from as string} (${res.problems.length} problems) → ${v.out as string}`);
        return res.problems.length ? 1 : 0;
      } catch (err) {
        console.error(`rrpipe snapshot: ${(err as Error).message}`);
        return 1;
      }
    }
    try {
      const now = Date.now();
      const startMs = parseTime(v.start as string, now, '--start');
      const endMs = parseTime(v.end as string | undefined, now, '--end');
      const common = {
        layout,
        startMs,
        endMs,
        filter,
        format,
        out: v.out as string,
        parallel: v.parallel ? Number(v.parallel) : 8,
        ...(v.spill ? { spillRecords: Number(v.spill) } : {}),
        onProgress: (p: { objects: number; objectsTotal: number; problems: unknown[] }) => progressBar(p.objects, p.objectsTotal, `${p.problems.length} problem(s)`),
      } satisfies Partial<SnapshotOptions>;
      const from = v.from as string;
      if (isLokiUri(from)) {
        const loki = parseLokiUri(from);
        const res = await buildSnapshot({ ...common, source: { uri: from, layout: 'loki', items: readLoki(loki, loki.query ?? defaultLogQL(filter), startMs, endMs) } });
        for (const p of res.problems.slice(0, 50)) console.error(`rrpipe snapshot: ${p.uri}${p.line ? ` line ${p.line}` : ''}: ${p.reason}`);
        console.error(`rrpipe snapshot: ${res.records} records from Loki (${res.duplicates} duplicates dropped, ${res.problems.length} problems) → ${v.out}`);
        return 0;
      }
      const e = v.endpoint as string | undefined;
      const loc = openLocation(from, { s3: { endpoint: e, s3_force_path_style: !!e }, gcs: { endpoint: e }, azure: { endpoint: e } });
      const res = await buildSnapshot({ ...common, store: loc.store, prefix: loc.key });
      await loc.store.close?.();
      if (process.stderr.isTTY) process.stderr.write('\n');
      for (const p of res.problems.slice(0, 50)) console.error(`rrpipe snapshot: ${p.uri}${p.line ? ` line ${p.line}` : ''}: ${p.reason}`);
      console.error(`rrpipe snapshot: ${res.records} records from ${res.objects} objects (${res.duplicates} duplicates dropped, ${res.problems.length} problems) → ${v.out}`);
      return 0;
    } catch (err) {
      console.error(`rrpipe snapshot: ${(err as Error).message}`);
      return 1;
    }
  },
};
