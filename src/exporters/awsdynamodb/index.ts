import type { ExporterFactory } from '../../core/component.js';
import type { QueryableStoreFactory } from '../../core/query.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, obj, str, type Config } from '../../config/fragments.js';
import { createExporter } from '../../helpers/exporter.js';
import { queryable } from '../../helpers/hot-store.js';
import { DynamoStore } from './store.js';

const schema = obj({
  region: str(undefined, 'AWS region; default AWS_REGION, else us-east-1.'),
  endpoint: address(undefined, 'Custom endpoint URL (DynamoDB Local, dynalite, LocalStack, a VPC endpoint).'),
  table_name: str('rrpairs', 'Table.', { minLength: 3, maxLength: 255 }),
  create_table: bool(false, 'Create the table with its GSIs (on-demand billing) on start when it is missing, and wait until it is active.'),
  configure_ttl: bool(true, 'On start, enable DynamoDB time to live on ttl_attribute (UpdateTimeToLive) when it is not already; a refusal is logged, not fatal.'),
  ttl: duration('7d', 'How long an item is kept: DynamoDB deletes it after ttl_attribute (epoch seconds) = write time + ttl.'),
  ttl_attribute: str('expires_at', 'The attribute holding the expiry time in epoch seconds.', { minLength: 1 }),
  store_rrpair: bool(true, 'Keep the full RRPair (JSON) in the item. Off: only the index document; `rrpipe query --output raw` fetches the RRPair through archive_uri.'),
  time_shards: int(4, 'Partitions per hour of the by_time index (write spreading); a query without service or exact status reads this many per hour. Do not change it on a table with data.', { minimum: 1, maximum: 256 }),
  max_item_size: bytes('400KiB', 'Largest item written; larger records are dead-lettered (DynamoDB refuses items over 400 KB).'),
  concurrency: int(4, 'BatchWriteItem requests in flight per batch.', { minimum: 1 }),
  max_attempts: int(3, 'Attempts the AWS SDK makes per request (its own retries, with its throttling backoff) before the exporter helper retries.', { minimum: 1 }),
  ...exporterHelperProperties(),
});

export type DynamoDbExporterConfig = Config<typeof schema>;

export const factory: ExporterFactory<DynamoDbExporterConfig> & QueryableStoreFactory<DynamoDbExporterConfig> = {
  kind: 'exporter',
  type: 'awsdynamodb',
  stability: 'alpha',
  description: 'Short-term store in Amazon DynamoDB: key service#hour / ts#id, GSIs by time, status and id, TTL attribute; queryable.',
  schema,
  create(s) {
    const store = new DynamoStore(s.config, s.logger);
    return queryable(createExporter(s, { start: () => store.start(), push: (b, signal) => store.push(b, signal), shutdown: async () => store.shutdown() }), store);
  },
  async openReader(s) {
    const store = new DynamoStore(s.config, s.logger);
    store.open();
    return { query: (f, o) => store.query(f, o), get: (id, o) => store.get(id, o), close: async () => store.shutdown() };
  },
};
