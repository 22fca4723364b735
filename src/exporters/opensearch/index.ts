import type { Client } from '@opensearch-project/opensearch';
import {
  searchExporterFactory,
  type EngineClient, type Resolved, type SearchExporterConfig, type SearchHitRaw,
} from '../internal/searchengine/index.js';

/** An EngineClient on the official OpenSearch client (@opensearch-project/opensearch). */
export async function openSearchClient(s: Resolved, c: SearchExporterConfig): Promise<EngineClient> {
  const opts: Record<string, unknown> = {
    nodes: s.nodes,
    maxRetries: 0, // the exporter helper retries, with backoff
    requestTimeout: c.timeout > 0 ? c.timeout : 30_000,
    compression: 'gzip',
    ssl: {
      ...s.tls,
    },
  };
  if (c.user) opts.auth = { username: c.user, password: c.password ?? '' };
  if (c.api_key) opts.headers = { authorization: `ApiKey ${c.api_key}` };
  if (c.aws_sigv4?.enabled) {
    const { AwsSigv4Signer } = await import('@opensearch-project/opensearch/aws');
    const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
    const provider = defaultProvider();
    Object.assign(opts, AwsSigv4Signer({ region: c.aws_sigv4.region!, service: c.aws_sigv4.service, getCredentials: () => provider() }));
    // Signed requests go uncompressed: a signature over the plain body does not match a gzipped
    // one (a known SigV4 pitfall), and OpenSearch Serverless takes no gzip request bodies.
    opts.compression = undefined;
  }
  // The client loads only when an opensearch exporter is configured.
  const { Client: OpenSearch } = await import('@opensearch-project/opensearch');
  const client = new OpenSearch(opts as ConstructorParameters<typeof Client>[0]);
  return {
    async bulk(lines, signal) {
      const req = client.bulk({ body: lines as never });
      const onAbort = () => req.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const res = await req;
        return res.body as unknown as Awaited<ReturnType<EngineClient['bulk']>>;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async search(target, body) {
      const res = await client.search({ index: target, body: body as never, ignore_unavailable: target.includes('*') ? undefined : true } as never);
      return ((res.body as { hits: { hits: SearchHitRaw[] } }).hits.hits);
    },
    async searchAggs(target, body) {
      const res = await client.search({ index: target, body: body as never, ignore_unavailable: target.includes('*') ? undefined : true } as never);
      const b = res.body as { hits: { total?: number | { value: number } }; aggregations?: Record<string, unknown> };
      return { total: typeof b.hits.total === 'number' ? b.hits.total : (b.hits.total?.value ?? 0), aggregations: b.aggregations };
    },
    async getDoc(index, id) {
      try {
        const res = await client.get({ index, id });
        return (res.body as { _source?: Record<string, unknown> })._source;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      }
    },
    async putIndexTemplate(name, body) {
      await client.indices.putIndexTemplate({ name, body: body as never });
    },
    async putRetentionPolicy(name, body) {
      // ISM updates need the current seq_no and primary_term.
      let current: { _seq_no?: number; _primary_term?: number } | undefined;
      try {
        current = (await client.ism.getPolicy({ policy_id: name })).body as typeof current;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
      await client.ism.putPolicy({
        policy_id: name,
        body: body as never,
        ...(current?._seq_no !== undefined ? { if_seq_no: current._seq_no, if_primary_term: current._primary_term } : {}),
      } as never);
    },
    async close() {
      await client.close();
    },
  };
}

export const factory = searchExporterFactory({
  flavor: 'opensearch',
  stability: 'beta',
  description: 'OpenSearch / Amazon OpenSearch Service (managed, serverless) short-term store: bulk indexing, index template, ISM retention; queryable.',
  makeClient: openSearchClient,
});
