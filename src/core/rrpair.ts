/**
 * The data shapes a record carries: Speedscale's RRPair and the flat index document. They live in
 * core, the ground floor, so that records and stores can name them; `src/rrpair/` holds the code
 * that works on them and re-exports these types.
 */

/** Headers as Speedscale writes them: each name maps to its list of values. */
export type Headers = { [name: string]: string[] };

export interface HttpRequest {
  url?: string;
  uri?: string;
  version?: string;
  method?: string;
  host?: string;
  headers?: Headers;
  bodyBase64?: string;
  [key: string]: unknown;
}

export interface HttpResponse {
  contentType?: string;
  statusCode?: number;
  statusMessage?: string;
  headers?: Headers;
  bodyBase64?: string;
  [key: string]: unknown;
}

/**
 * A request/response pair with Speedscale's field names. Every field is optional because
 * captures differ by protocol and recorder; fields rrpipe does not know are kept as they came.
 */
export interface RRPair {
  msgType?: string;
  resource?: string;
  ts?: string;
  l7protocol?: string;
  duration?: number;
  tags?: { [key: string]: string };
  uuid?: string;
  direction?: string;
  cluster?: string;
  namespace?: string;
  service?: string;
  tech?: string;
  network_address?: string;
  command?: string;
  location?: string;
  status?: string;
  http?: { req?: HttpRequest; res?: HttpResponse; [key: string]: unknown };
  grpc?: { [key: string]: unknown };
  postgres?: { [key: string]: unknown };
  netinfo?: { [key: string]: unknown };
  signature?: { [key: string]: unknown };
  tokens?: unknown;
  tokenList?: unknown;
  dlpModified?: boolean;
  dlpRule?: string;
  [key: string]: unknown;
}

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
