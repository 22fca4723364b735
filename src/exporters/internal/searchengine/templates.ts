/** Index management: the mappings, the index template and the retention policy (ILM for Elasticsearch, ISM for OpenSearch). */
import type { CreateSettings } from '../../../core/component.js';
import { classify, type EngineClient } from './client.js';
import type { Flavor, MappingMode, Resolved, SearchExporterConfig } from './config.js';
import { ss4oMappings } from './ss4o.js';

const KEYWORDS = ['id', 'cluster', 'namespace', 'service', 'direction', 'l7protocol', 'command', 'location', 'status', 'host', 'archive_uri'] as const;

export function mappings(mode: MappingMode, dataStream: boolean): Record<string, unknown> {
  if (mode === 'ss4o') return ss4oMappings();
  if (mode === 'otel') {
    const kw = { type: 'keyword', ignore_above: 8191 };
    return {
      dynamic: false,
      properties: {
        '@timestamp': { type: 'date' },
        Body: {
          dynamic: false,
          properties: {
            uuid: { type: 'keyword' }, ts: { type: 'keyword' }, direction: { type: 'keyword' }, l7protocol: { type: 'keyword' },
            command: kw, location: kw, status: { type: 'keyword' }, cluster: { type: 'keyword' }, namespace: { type: 'keyword' },
            service: { type: 'keyword' }, duration: { type: 'long' }, network_address: { type: 'keyword' },
            http: { type: 'object', enabled: false },
          },
        },
        Attributes: { dynamic: false, properties: { service: { type: 'keyword' }, namespace: { type: 'keyword' } } },
        Resource: { dynamic: false, properties: { cluster: { type: 'keyword' } } },
      },
    };
  }
  const props: Record<string, unknown> = {};
  for (const k of KEYWORDS) props[k] = k === 'location' ? { type: 'keyword', ignore_above: 8191 } : { type: 'keyword' };
  // ts keeps nanoseconds; its keyword sub-field gives exact, JSON-safe sort values for paging.
  props.ts = { type: 'date_nanos', fields: { sort: { type: 'keyword' } } };
  props.duration = { type: 'long' };
  props.req_size = { type: 'long' };
  props.res_size = { type: 'long' };
  props.rrpair = { type: 'object', enabled: false };
  if (dataStream) props['@timestamp'] = { type: 'date_nanos' };
  return { dynamic: false, properties: props };
}

/** "7d" / "36h" / "90m" / "30s" for a duration in ms (the units ILM and ISM accept). */
export function timeValue(ms: number): string {
  for (const [u, n] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}

export function indexTemplate(s: Resolved, c: SearchExporterConfig, flavor: Flavor): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  const im = c.index_management;
  if (im.number_of_shards !== undefined) settings['index.number_of_shards'] = im.number_of_shards;
  if (im.number_of_replicas !== undefined) settings['index.number_of_replicas'] = im.number_of_replicas;
  if (flavor === 'elasticsearch' && im.retention > 0 && s.indexMode !== 'fixed') settings['index.lifecycle.name'] = s.policyName;
  const dataStream = s.indexMode === 'data_stream';
  return {
    index_patterns: [s.indexMode === 'daily' ? `${s.index}-*` : s.index],
    priority: 200,
    ...(dataStream ? { data_stream: {} } : {}),
    template: { settings, mappings: mappings(s.mode, dataStream) },
    _meta: { managed_by: 'rrpipe' },
  };
}

export function ilmPolicy(s: Resolved, c: SearchExporterConfig): Record<string, unknown> {
  const hot = s.indexMode === 'data_stream' ? { rollover: { max_age: timeValue(c.index_management.rollover_max_age) } } : {};
  return {
    policy: {
      phases: {
        hot: { min_age: '0ms', actions: hot },
        delete: { min_age: timeValue(c.index_management.retention), actions: { delete: {} } },
      },
      _meta: { managed_by: 'rrpipe' },
    },
  };
}

export function ismPolicy(s: Resolved, c: SearchExporterConfig): Record<string, unknown> {
  const rollover = s.indexMode === 'data_stream' ? [{ rollover: { min_index_age: timeValue(c.index_management.rollover_max_age) } }] : [];
  return {
    policy: {
      description: `rrpipe: delete ${s.index} indices after ${timeValue(c.index_management.retention)}`,
      default_state: 'hot',
      states: [
        { name: 'hot', actions: rollover, transitions: [{ state_name: 'delete', conditions: { min_index_age: timeValue(c.index_management.retention) } }] },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [s.indexMode === 'daily' ? `${s.index}-*` : s.indexMode === 'data_stream' ? `.ds-${s.index}-*` : s.index], priority: 100 }],
    },
  };
}

/** Put the retention policy and the index template in place (at start, when index_management.enabled). */
export async function manage(client: EngineClient, s: Resolved, c: SearchExporterConfig, flavor: Flavor, log: CreateSettings<unknown>['logger']): Promise<void> {
  try {
    if (c.index_management.retention > 0 && s.indexMode !== 'fixed') {
      await client.putRetentionPolicy(s.policyName, flavor === 'elasticsearch' ? ilmPolicy(s, c) : ismPolicy(s, c));
    } else if (c.index_management.retention > 0) {
      log.warn({ index: s.index }, 'index_mode fixed: no retention policy (deleting the one index would delete everything); use daily or data_stream for retention');
    }
    await client.putIndexTemplate(s.templateName, indexTemplate(s, c, flavor));
    log.info({ template: s.templateName, policy: s.policyName, index: s.index, index_mode: s.indexMode }, 'index template and retention policy in place');
  } catch (err) {
    throw classify(err, 'index management (set index_management.enabled: false to skip it)');
  }
}
