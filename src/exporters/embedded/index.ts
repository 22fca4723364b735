import { isAbsolute, join, resolve } from 'node:path';
import type { Component, Consumer, CreateSettings, ExporterFactory, Host } from '../../core/component.js';
import { bool, bytes, duration, exporterHelperProperties, obj, path, type Config } from '../../config/fragments.js';
import { PermanentError } from '../../core/errors.js';
import type { AggregateSpec, Aggregates, SortedPage, SortSpec, QueryableStore, QueryableStoreFactory, QueryFilter, QueryOptions, QueryPage } from '../../core/query.js';
import type { RRPair } from '../../rrpair/types.js';
import { createExporter } from '../../helpers/exporter.js';
import { EmbeddedStore } from './store.js';

function storePath(s: CreateSettings<EmbeddedConfig>, dataDir: string): string {
  const p = s.config.path;
  if (p) return isAbsolute(p) || p === ':memory:' ? p : resolve(s.configDir, p);
  return join(dataDir, 'embedded', `${s.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.db`);
}

/** The embedded exporter: a component, a consumer and a queryable store. */
export type EmbeddedExporter = Component & Consumer & QueryableStore & { readonly store?: EmbeddedStore };

export function createEmbeddedExporter(s: CreateSettings<EmbeddedConfig>, opts: { now?: () => number } = {}): EmbeddedExporter {
  const c = s.config;
  let store: EmbeddedStore | undefined;
  let timer: NodeJS.Timeout | undefined;
  const retained = s.metrics.counter('embedded_retention_deleted', 'Rows the embedded store deleted for its ttl or size cap.', ['reason']);
  const sizeGauge = s.metrics.gauge('embedded_store_bytes', 'Bytes of live data in the embedded store.');

  const sweep = () => {
    if (!store) return;
    try {
      const old = store.enforceRetention();
      if (old) retained.inc({ reason: 'ttl' }, old);
      const capped = store.enforceSizeCap();
      if (capped) retained.inc({ reason: 'size_cap' }, capped);
      sizeGauge.set(store.dataSize());
    } catch (err) {
      s.logger.error({ err }, 'embedded store retention failed');
    }
  };

  const helper = createExporter(s, {
    async start(host: Host) {
      const path = storePath(s, host.dataDir);
      store = new EmbeddedStore({ path, storeRRPair: c.store_rrpair, ttlMs: c.ttl, maxSizeBytes: c.max_size, now: opts.now });
      s.logger.info({ path }, 'embedded store open');
      sweep();
      if (c.retention_check_interval > 0) {
        timer = setInterval(sweep, c.retention_check_interval);
        timer.unref();
      }
    },
    async push(batch) {
      if (!store) throw new PermanentError('embedded store is not open');
      const capped = store.write(batch);
      if (capped) retained.inc({ reason: 'size_cap' }, capped);
    },
    async shutdown() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await store?.close();
      store = undefined;
    },
  });

  return {
    start: (host) => helper.start(host),
    shutdown: (deadline) => helper.shutdown(deadline),
    consume: (batch, ctx) => helper.consume(batch, ctx),
    query(filter: QueryFilter, opts?: QueryOptions): Promise<QueryPage> {
      if (!store) return Promise.reject(new Error(`exporter ${s.id} is not running`));
      return store.query(filter, opts);
    },
    get(id: string, opts?: QueryOptions): Promise<RRPair | undefined> {
      if (!store) return Promise.reject(new Error(`exporter ${s.id} is not running`));
      return store.get(id, opts);
    },
    aggregate(filter: QueryFilter, spec: AggregateSpec, opts?: QueryOptions): Promise<Aggregates> {
      if (!store) return Promise.reject(new Error(`exporter ${s.id} is not running`));
      return store.aggregate(filter, spec, opts);
    },
    sortedPage(filter: QueryFilter, sort: SortSpec, opts?: QueryOptions): Promise<SortedPage> {
      if (!store) return Promise.reject(new Error(`exporter ${s.id} is not running`));
      return store.sortedPage(filter, sort, opts);
    },
    get store() {
      return store;
    },
  };
}

const schema = obj({
  path: path(undefined, 'SQLite file (or :memory:); default <service.data_dir>/embedded/<id>.db.'),
  ttl: duration('7d', 'Rows stored longer ago than this are deleted while running; 0 keeps them.'),
  retention_check_interval: duration('1m', 'How often the ttl and size cap are enforced (the cap is also checked after every write).'),
  max_size: bytes('1GiB', 'Cap on the live data in the store; the oldest rows are deleted first; 0 = no cap.'),
  store_rrpair: bool(true, 'Keep the whole RRPair beside the index document (rrpipe query --output raw reads it from here).'),
  ...exporterHelperProperties(),
});

export type EmbeddedConfig = Config<typeof schema>;

export const factory: ExporterFactory<EmbeddedConfig> & QueryableStoreFactory<EmbeddedConfig> = {
  kind: 'exporter',
  type: 'embedded',
  aliases: ['sqlite'],
  stability: 'beta',
  description: 'Embedded on-disk short-term store (SQLite): index documents and optionally whole RRPairs, with a ttl and a size cap; queryable.',
  schema,
  create: (s) => createEmbeddedExporter(s),
  async openReader(s, env) {
    const path = storePath(s, env.dataDir);
    try {
      return new EmbeddedStore({ path, readOnly: true });
    } catch (err) {
      throw new Error(`cannot open the embedded store of ${s.id} at ${path}: ${(err as Error).message}`, { cause: err });
    }
  },
};
