/** The config of the opensearch and elasticsearch exporters (one schema, two flavors) and the settings resolved from it. */
import type { ConnectionOptions } from 'node:tls';
import { PermanentError } from '../../../core/errors.js';
import { address, bool, bytes, duration, exporterHelperProperties, int, list, obj, oneOf, secret, str, tlsClient, type Config } from '../../../config/fragments.js';
import { clientTlsOptions } from '../../../helpers/tls.js';

export type Flavor = 'opensearch' | 'elasticsearch';
export type MappingMode = 'ss4o' | 'otel' | 'rrpipe';

/** The default logs index of the OTel opensearch exporter: ss4o_{type}-{dataset}-{namespace} (config.go, getIndexName). */
export function ss4oIndex(dataset: string, namespace: string): string {
  return ['ss4o_logs', dataset, namespace].join('-');
}

function properties(flavor: Flavor) {
  return {
    endpoint: address(undefined, 'URL of the cluster, e.g. https://search-x.eu-west-1.es.amazonaws.com (or use endpoints).'),
    endpoints: list(address(), undefined, 'URLs of cluster nodes (the OTel Collector elasticsearch exporter key).'),
    index: str(undefined, `Index name, prefix of the daily indices, or data stream name. Default: ${flavor === 'opensearch' ? 'ss4o_logs-<dataset>-<namespace> (ss4o_logs-default-namespace) with mapping.mode ss4o, logs-generic-default with otel' : 'logs-generic-default with mapping.mode otel'} (as the OTel ${flavor} exporter), rrpipe-rrpairs with mapping.mode rrpipe.`),
    logs_index: str(undefined, 'Alias of index (the OTel Collector exporter key): documents go to exactly this index.'),
    index_mode: oneOf(['daily', 'data_stream', 'fixed'], undefined, 'daily: <index>-YYYY.MM.DD by event time; data_stream: a data stream; fixed: one index. Default daily (rrpipe) or fixed (otel).'),
    action: oneOf(['create', 'index'], 'create', 'Bulk action: create (write once; a document already there counts as delivered) or index (overwrite).'),
    ...(flavor === 'opensearch'
      ? {
        bulk_action: oneOf(['create', 'index'], undefined, 'The OTel opensearch exporter\'s name of action.'),
        dataset: str('default', 'ss4o: the {dataset} of the default index ss4o_logs-{dataset}-{namespace}, also written to attributes.data_stream.dataset.'),
        namespace: str('namespace', 'ss4o: the {namespace} of the default index, also written to attributes.data_stream.namespace.'),
        http: obj({
          endpoint: address(undefined, 'The OTel opensearch exporter\'s place for the cluster URL (confighttp): the same as endpoint.'),
          tls: tlsClient('Client TLS (confighttp tls), the same as tls.'),
        }, { description: 'The OTel opensearch exporter\'s HTTP client block; give endpoint and tls here or at the top level, not both.' }),
      }
      : {}),
    mapping: obj({
      mode: flavor === 'opensearch'
        ? oneOf(['ss4o', 'otel', 'rrpipe'], 'ss4o', 'ss4o: the Simple Schema for Observability document the OTel opensearch exporter writes (body = the RRPair JSON, attributes, resource, @timestamp from the LogRecord); otel: the OTel elasticsearch exporter\'s document (Body.*, Attributes.*, Resource.*); rrpipe: rrpipe\'s flat index document.')
        : oneOf(['otel', 'rrpipe'], 'otel', 'otel: the document the OTel Collector exporter writes (@timestamp from the LogRecord, Body.*, Attributes.*, Resource.*); rrpipe: rrpipe\'s flat index document.'),
      store_rrpair: bool(false, 'rrpipe mode: keep the whole RRPair in the document (stored, not indexed).'),
    }, { default: {} }),
    user: str(undefined, 'Basic auth user name.'),
    password: secret('Basic auth password.'),
    api_key: secret('API key (base64 of id:key), sent as Authorization: ApiKey.'),
    tls: tlsClient('Client TLS for https:// endpoints (OTel configtls.ClientConfig).'),
    flush: obj({
      bytes: bytes('5MiB', 'Largest bulk request body; a batch is split into several bulk requests above this.'),
      max_docs: int(1000, 'Most documents in one bulk request.', { minimum: 1 }),
      concurrency: int(2, 'Bulk requests of one batch in flight at once.', { minimum: 1 }),
    }, { default: {} }),
    index_management: obj({
      enabled: bool(true, 'Create the index template and the retention policy at start (needs the privileges).'),
      template_name: str(undefined, 'Index template name (default: the index name).'),
      policy_name: str(undefined, `${flavor === 'opensearch' ? 'ISM' : 'ILM'} policy name (default: <index>-retention).`),
      retention: duration('7d', 'Delete indices older than this (daily indices, data stream backing indices); 0 = no policy.'),
      rollover_max_age: duration('1d', 'data_stream: roll the write index over at this age.'),
      number_of_shards: int(undefined, 'Shards per index (template setting).', { minimum: 1 }),
      number_of_replicas: int(undefined, 'Replicas per index (template setting).', { minimum: 0 }),
    }, { default: {} }),
    query: obj({
      max_limit: int(10_000, 'Largest page a query returns.', { minimum: 1, maximum: 10_000 }),
      keyword_suffix: str('', 'Appended to the dimension fields in queries, e.g. ".keyword" for an index that Elasticsearch mapped dynamically (text + keyword sub-field), as an existing BYOC speedscale-rrpair index may be.'),
    }, { default: {} }),
    ...exporterHelperProperties(),
  };
}

const awsSigv4 = obj({
  enabled: bool(false, 'Sign requests with AWS Signature V4 (Amazon OpenSearch Service); credentials from the AWS default chain.'),
  region: str(undefined, 'AWS region, e.g. eu-west-1.'),
  service: oneOf(['es', 'aoss'], 'es', 'es: managed domains; aoss: OpenSearch Serverless collections.'),
});

const openSearchSchema = obj({ ...properties('opensearch'), aws_sigv4: awsSigv4 });
const elasticsearchSchema = obj(properties('elasticsearch'));

/** The config of either flavor (aws_sigv4, dataset, namespace and bulk_action exist only for opensearch). */
export type SearchExporterConfig = Omit<Config<typeof openSearchSchema>, 'mapping' | 'dataset' | 'namespace'> & {
  mapping: Omit<Config<typeof openSearchSchema>['mapping'], 'mode'> & { mode: MappingMode };
  dataset?: string;
  namespace?: string;
  http?: { endpoint?: string; tls?: Config<typeof openSearchSchema>['tls'] };
};

export function searchExporterSchema(flavor: Flavor): typeof openSearchSchema | typeof elasticsearchSchema {
  return flavor === 'opensearch' ? openSearchSchema : elasticsearchSchema;
}

export interface Resolved {
  nodes: string[];
  mode: MappingMode;
  /** ss4o: attributes.data_stream of every document. */
  dataStream: { dataset: string; namespace: string };
  /** The bulk action (bulk_action, the OTel key, over action). */
  action: 'create' | 'index';
  index: string;
  indexMode: 'daily' | 'data_stream' | 'fixed';
  /** What searches address. */
  searchTarget: string;
  templateName: string;
  policyName: string;
  /** Node TLS options for the official client (clientTlsOptions of `tls`). */
  tls: ConnectionOptions;
}

export function resolveSettings(c: SearchExporterConfig, _configDir?: string, flavor: Flavor = 'elasticsearch'): Resolved {
  const endpoint = c.endpoint ?? c.http?.endpoint;
  const nodes = c.endpoints?.length ? c.endpoints : endpoint ? [endpoint] : [];
  if (nodes.length === 0) throw new PermanentError('endpoint (or endpoints) is required');
  const mode = c.mapping.mode;
  const dataStream = { dataset: c.dataset ?? 'default', namespace: c.namespace ?? 'namespace' };
  const defaultIndex = mode === 'ss4o' ? ss4oIndex(dataStream.dataset, dataStream.namespace) : mode === 'otel' ? 'logs-generic-default' : 'rrpipe-rrpairs';
  const index = c.index ?? c.logs_index ?? defaultIndex;
  const indexMode = c.index_mode ?? (mode === 'rrpipe' ? 'daily' : 'fixed');
  return {
    nodes,
    mode,
    dataStream,
    action: (c.bulk_action as 'create' | 'index' | undefined) ?? c.action,
    index,
    indexMode,
    searchTarget: indexMode === 'daily' ? `${index}-*` : index,
    templateName: c.index_management.template_name ?? index,
    policyName: c.index_management.policy_name ?? `${index}-retention`,
    tls: clientTlsOptions(c.tls ?? c.http?.tls),
  };
}

export function validateSearchConfig(c: SearchExporterConfig): { path?: string[]; message: string }[] {
  const out: { path?: string[]; message: string }[] = [];
  const given = [c.endpoint, c.endpoints?.length ? c.endpoints : undefined, c.http?.endpoint].filter((x) => x !== undefined).length;
  if (given === 0) out.push({ path: ['endpoint'], message: 'endpoint (or endpoints) is required' });
  if (given > 1) out.push({ path: ['endpoints'], message: 'give one of endpoint, endpoints and http.endpoint' });
  if (c.tls && c.http?.tls) out.push({ path: ['http', 'tls'], message: 'give tls or http.tls, not both' });
  if (c.index && c.logs_index && c.index !== c.logs_index) out.push({ path: ['logs_index'], message: 'index and logs_index are the same setting; give one' });
  if (c.index_mode === 'data_stream' && (c.bulk_action ?? c.action) === 'index') out.push({ path: ['action'], message: 'a data stream takes only the create action' });
  if (c.dataset === '') out.push({ path: ['dataset'], message: 'dataset must be specified' });
  if (c.namespace === '') out.push({ path: ['namespace'], message: 'namespace must be specified' });
  if (c.user && c.password === undefined) out.push({ path: ['password'], message: 'user needs a password' });
  if (c.aws_sigv4?.enabled && !c.aws_sigv4.region) out.push({ path: ['aws_sigv4', 'region'], message: 'aws_sigv4 needs a region' });
  if (c.aws_sigv4?.enabled && (c.user || c.api_key)) out.push({ path: ['aws_sigv4'], message: 'aws_sigv4 replaces user/password and api_key; give one kind of auth' });
  if (c.mapping.mode !== 'rrpipe' && c.mapping.store_rrpair) out.push({ path: ['mapping', 'store_rrpair'], message: `${c.mapping.mode} mode always stores the whole RRPair (as ${c.mapping.mode === 'ss4o' ? 'body' : 'Body'})` });
  return out;
}
