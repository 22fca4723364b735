import type { ClientOptions } from '@elastic/elasticsearch';
import {
  searchExporterFactory,
  type EngineClient, type Resolved, type SearchExporterConfig, type SearchHitRaw,
} from '../internal/searchengine/index.js';

/** An EngineClient on the official Elasticsearch client (@elastic/elasticsearch 8.x: talks to Elasticsearch 8 and 9). */
export async function elasticClient(s: Resolved, c: SearchExporterConfig): Promise<EngineClient> {
  const opts: ClientOptions = {
    nodes: s.nodes,
    maxRetries: 0, // the exporter helper retries, with backoff
    requestTimeout: c.timeout > 0 ? c.timeout : 30_000,
    compression: true,
    tls: {
      ...s.tls,
    },
  };
  if (c.user) opts.auth = { username: c.user, password: c.password ?? '' };
  else if (c.api_key) opts.auth = { apiKey: c.api_key };
  // The client loads only when an elasticsearch exporter is configured.
  const { Client } = await import('@elastic/elasticsearch');
  const client = new Client(opts);
  return {
    async bulk(lines, signal) {
      const res = await client.bulk({ operations: lines as never }, { signal });
      return res as unknown as Awaited<ReturnType<EngineClient['bulk']>>;
    },
    async search(target, body) {
      const res = await client.search({ index: target, ...(target.includes('*') ? {} : { ignore_unavailable: true }), ...body } as never);
      return (res.hits.hits as unknown as SearchHitRaw[]);
    },
    async searchAggs(target, body) {
      const res = await client.search({ index: target, ...(target.includes('*') ? {} : { ignore_unavailable: true }), ...body } as never);
      const total = res.hits.total;
      return { total: typeof total === 'number' ? total : (total?.value ?? 0), aggregations: res.aggregations as Record<string, unknown> | undefined };
    },
    async getDoc(index, id) {
      try {
        const res = await client.get({ index, id });
        return res._source as Record<string, unknown> | undefined;
      } catch (err) {
        if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return undefined;
        throw err;
      }
    },
    async putIndexTemplate(name, body) {
      await client.indices.putIndexTemplate({ name, ...body } as never);
    },
    async putRetentionPolicy(name, body) {
      await client.ilm.putLifecycle({ name, ...body } as never);
    },
    async close() {
      await client.close();
    },
  };
}

export const factory = searchExporterFactory({
  flavor: 'elasticsearch',
  stability: 'beta',
  description: 'Elasticsearch / Elastic Cloud short-term store: bulk indexing, index template, ILM retention, OTel-collector-compatible otel mode; queryable.',
  makeClient: elasticClient,
});
