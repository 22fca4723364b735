/** The config of the opensearch and elasticsearch exporters (one schema, two flavors) and the settings resolved from it. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { JSONSchema } from '../../../core/component.js';
import { PermanentError } from '../../../core/errors.js';
import { bool, bytes, duration, exporterHelperProperties, int, obj, oneOf, str, strings, tls } from '../../../config/fragments.js';
import type { ExporterHelperConfig } from '../../../helpers/exporter.js';

export type Flavor = 'opensearch' | 'elasticsearch';

export interface TlsConfig {
  insecure?: boolean;
  insecure_skip_verify?: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  server_name_override?: string;
}

export interface SearchExporterConfig extends ExporterHelperConfig {
  endpoint?: string;
  endpoints?: string[];
  index?: string;
  logs_index?: string;
  index_mode?: 'daily' | 'data_stream' | 'fixed';
  action: 'create' | 'index';
  mapping: { mode: 'rrpipe' | 'otel'; store_rrpair: boolean };
  user?: string;
  password?: string;
  api_key?: string;
  aws_sigv4?: { enabled: boolean; region?: string; service: 'es' | 'aoss' };
  tls?: TlsConfig;
  flush: { bytes: number; max_docs: number; concurrency: number };
  index_management: {
    enabled: boolean;
    template_name?: string;
    policy_name?: string;
    retention: number;
    rollover_max_age: number;
    number_of_shards?: number;
    number_of_replicas?: number;
  };
  query: { max_limit: number; keyword_suffix: string };
}

export function searchExporterSchema(flavor: Flavor): JSONSchema {
  return obj({
    endpoint: str(undefined, 'URL of the cluster, e.g. https://search-x.eu-west-1.es.amazonaws.com (or use endpoints).'),
    endpoints: strings(undefined, 'URLs of cluster nodes (the OTel Collector elasticsearch exporter key).'),
    index: str(undefined, 'Index name, prefix of the daily indices, or data stream name. Default rrpipe-rrpairs (mapping.mode rrpipe) or speedscale-rrpair (otel).'),
    logs_index: str(undefined, 'Alias of index (the OTel Collector elasticsearch exporter key).'),
    index_mode: oneOf(['daily', 'data_stream', 'fixed'], undefined, 'daily: <index>-YYYY.MM.DD by event time; data_stream: a data stream; fixed: one index. Default daily (rrpipe) or fixed (otel).'),
    action: oneOf(['create', 'index'], 'create', 'Bulk action: create (write once; a document already there counts as delivered) or index (overwrite).'),
    mapping: obj({
      mode: oneOf(['rrpipe', 'otel'], 'rrpipe', 'rrpipe: the flat index document; otel: what the OTel Collector elasticsearch exporter writes (@timestamp, Body.*, Attributes.*, Resource.*).'),
      store_rrpair: bool(false, 'rrpipe mode: keep the whole RRPair in the document (stored, not indexed).'),
    }),
    user: str(undefined, 'Basic auth user name.'),
    password: str(undefined, 'Basic auth password.', { 'x-secret': true }),
    api_key: str(undefined, 'API key (base64 of id:key), sent as Authorization: ApiKey.', { 'x-secret': true }),
    ...(flavor === 'opensearch'
      ? {
          aws_sigv4: obj({
            enabled: bool(false, 'Sign requests with AWS Signature V4 (Amazon OpenSearch Service); credentials from the AWS default chain.'),
            region: str(undefined, 'AWS region, e.g. eu-west-1.'),
            service: oneOf(['es', 'aoss'], 'es', 'es: managed domains; aoss: OpenSearch Serverless collections.'),
          }),
        }
      : {}),
    tls: tls(),
    flush: obj({
      bytes: bytes('5MiB', 'Largest bulk request body; a batch is split into several bulk requests above this.'),
      max_docs: int(1000, 'Most documents in one bulk request.', { minimum: 1 }),
      concurrency: int(2, 'Bulk requests of one batch in flight at once.', { minimum: 1 }),
    }),
    index_management: obj({
      enabled: bool(true, 'Create the index template and the retention policy at start (needs the privileges).'),
      template_name: str(undefined, 'Index template name (default: the index name).'),
      policy_name: str(undefined, `${flavor === 'opensearch' ? 'ISM' : 'ILM'} policy name (default: <index>-retention).`),
      retention: duration('7d', 'Delete indices older than this (daily indices, data stream backing indices); 0 = no policy.'),
      rollover_max_age: duration('1d', 'data_stream: roll the write index over at this age.'),
      number_of_shards: int(undefined, 'Shards per index (template setting).', { minimum: 1 }),
      number_of_replicas: int(undefined, 'Replicas per index (template setting).', { minimum: 0 }),
    }),
    query: obj({
      max_limit: int(10_000, 'Largest page a query returns.', { minimum: 1, maximum: 10_000 }),
      keyword_suffix: str('', 'Appended to the dimension fields in queries, e.g. ".keyword" for an index that Elasticsearch mapped dynamically (text + keyword sub-field), as an existing BYOC speedscale-rrpair index may be.'),
    }),
    ...exporterHelperProperties(),
  });
}

export interface Resolved {
  nodes: string[];
  mode: 'rrpipe' | 'otel';
  index: string;
  indexMode: 'daily' | 'data_stream' | 'fixed';
  /** What searches address. */
  searchTarget: string;
  templateName: string;
  policyName: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function resolveSettings(c: SearchExporterConfig, configDir: string): Resolved {
  const nodes = c.endpoints?.length ? c.endpoints : c.endpoint ? [c.endpoint] : [];
  if (nodes.length === 0) throw new PermanentError('endpoint (or endpoints) is required');
  const mode = c.mapping.mode;
  const index = c.index ?? c.logs_index ?? (mode === 'otel' ? 'speedscale-rrpair' : 'rrpipe-rrpairs');
  const indexMode = c.index_mode ?? (mode === 'otel' ? 'fixed' : 'daily');
  const read = (f?: string) => (f ? readFileSync(resolve(configDir, f)) : undefined);
  return {
    nodes,
    mode,
    index,
    indexMode,
    searchTarget: indexMode === 'daily' ? `${index}-*` : index,
    templateName: c.index_management.template_name ?? index,
    policyName: c.index_management.policy_name ?? `${index}-retention`,
    ca: read(c.tls?.ca_file),
    cert: read(c.tls?.cert_file),
    key: read(c.tls?.key_file),
  };
}

export function validateSearchConfig(c: SearchExporterConfig): { path?: string[]; message: string }[] {
  const out: { path?: string[]; message: string }[] = [];
  if (!c.endpoint && !c.endpoints?.length) out.push({ path: ['endpoint'], message: 'endpoint (or endpoints) is required' });
  if (c.endpoint && c.endpoints?.length) out.push({ path: ['endpoints'], message: 'give endpoint or endpoints, not both' });
  if (c.index && c.logs_index && c.index !== c.logs_index) out.push({ path: ['logs_index'], message: 'index and logs_index are the same setting; give one' });
  if (c.index_mode === 'data_stream' && c.action === 'index') out.push({ path: ['action'], message: 'a data stream takes only the create action' });
  if (c.user && c.password === undefined) out.push({ path: ['password'], message: 'user needs a password' });
  if (c.aws_sigv4?.enabled && !c.aws_sigv4.region) out.push({ path: ['aws_sigv4', 'region'], message: 'aws_sigv4 needs a region' });
  if (c.aws_sigv4?.enabled && (c.user || c.api_key)) out.push({ path: ['aws_sigv4'], message: 'aws_sigv4 replaces user/password and api_key; give one kind of auth' });
  if (c.mapping.mode === 'otel' && c.mapping.store_rrpair) out.push({ path: ['mapping', 'store_rrpair'], message: 'otel mode always stores the whole RRPair (as Body)' });
  return out;
}
