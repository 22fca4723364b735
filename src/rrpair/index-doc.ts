/**
 * The small, flat document that short-term stores index and search by.
 * `location` keeps Speedscale's meaning (the path or SQL); the long-term address of the
 * full RRPair is `archive_uri`, set once the record is safely archived.
 */
export interface IndexDoc {
  id: string;
  /** Event time, RFC 3339 with nanoseconds. */
  ts: string;
  cluster: string;
  namespace: string;
  service: string;
  direction: string;
  l7protocol: string;
  command: string;
  location: string;
  status: string;
  host: string;
  /** Milliseconds. */
  duration: number;
  req_size: number;
  res_size: number;
  archive_uri?: string;
  [extra: string]: string | number | boolean | undefined;
}

/** Fields of IndexDoc in a fixed order (stores create columns and mappings from it). */
export const INDEX_FIELDS = [
  'id', 'ts', 'cluster', 'namespace', 'service', 'direction', 'l7protocol',
  'command', 'location', 'status', 'host', 'duration', 'req_size', 'res_size', 'archive_uri',
] as const;
