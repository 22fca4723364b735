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

/** The fields whose value "undefined" (a recorder's placeholder) means "not known". */
export const IDENTITY_FIELDS = ['cluster', 'namespace', 'service'] as const;

export function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 'undefined';
}

export function isRRPairObject(v: unknown): v is RRPair {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
