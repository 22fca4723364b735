export type { IndexDoc } from '../core/rrpair.js';

/** Fields of IndexDoc in a fixed order (stores create columns and mappings from it). */
export const INDEX_FIELDS = [
  'id', 'ts', 'cluster', 'namespace', 'service', 'direction', 'l7protocol',
  'command', 'location', 'status', 'host', 'duration', 'req_size', 'res_size', 'archive_uri',
] as const;
