import type { ExporterFactory } from '../../core/component.js';
import type { QueryableStoreFactory } from '../../core/query.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, obj, str, type Config } from '../../config/fragments.js';
import { createExporter } from '../../helpers/exporter.js';
import { queryable } from '../../helpers/hot-store.js';
import { TimestreamStore } from './store.js';

const schema = obj({
  region: str(undefined, 'AWS region; default AWS_REGION, else us-east-1.'),
  endpoint: address(undefined, 'Endpoint asked DescribeEndpoints for the write (ingest) cell endpoint (a VPC endpoint, a test server). Default: the SDK\'s regional endpoint and its own endpoint discovery.'),
  query_endpoint: address(undefined, 'Endpoint asked DescribeEndpoints for the query cell endpoint; default: endpoint.'),
  database: str('rrpipe', 'Timestream database.', { minLength: 3, maxLength: 256 }),
  table: str('rrpairs', 'Timestream table.', { minLength: 3, maxLength: 256 }),
  create_table: bool(false, 'On start, create the database and the table (with the retention below) when missing.'),
  memory_store_retention: duration('24h', 'Memory store retention of a created table (whole hours, 1h to 8766h): records newer than this are in the fast store.'),
  magnetic_store_retention: duration('30d', 'Magnetic store retention of a created table (whole days): Timestream deletes records older than this. This is the store\'s retention.'),
  magnetic_store_writes: bool(true, 'Let a created table take records older than the memory store retention (backfills, rehydrate) into the magnetic store.'),
  max_record_size: bytes('2KiB', 'Largest record written; larger records are dead-lettered (Timestream refuses records over 2 KB).'),
  concurrency: int(4, 'WriteRecords calls in flight per batch.', { minimum: 1 }),
  max_attempts: int(3, 'Attempts the AWS SDK makes per call (its own retries, with its throttling backoff) before the exporter helper retries.', { minimum: 1 }),
  ...exporterHelperProperties(),
});

export type TimestreamExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<TimestreamExporterConfig> & QueryableStoreFactory<TimestreamExporterConfig> = {
  kind: 'exporter',
  type: 'awstimestream',
  stability: 'alpha',
  description: 'Short-term index in Amazon Timestream for LiveAnalytics: one multi-measure record per RRPair, index fields as dimensions, memory/magnetic retention; queryable with SQL, the RRPair fetched through archive_uri.',
  schema,
  create(s) {
    const store = new TimestreamStore(s.config, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b, signal) => store.push(b, signal), shutdown: async () => store.shutdown() }), store);
  },
  async openReader(s) {
    const store = new TimestreamStore(s.config, s.logger);
    store.open();
    return { query: (f, o) => store.query(f, o), close: async () => store.shutdown() };
  },
};
