/**
 * The explorer's JSON answers, shared by the server (src/extensions/query_api/ui) and the page
 * (web/src, type-only imports: nothing of this file but UNKNOWN is bundled). No Node APIs here.
 */

/** The name shown for an empty service or protocol. */
export const UNKNOWN = '(unknown)';

/** GET /api/v1/explore/histogram */
export interface Histogram {
  start: number;
  end: number;
  step_ms: number;
  /** Bucket i covers [start + i*step, start + (i+1)*step). */
  counts: number[];
  errors: number[];
  total: number;
  truncated: boolean;
  /** Counted by the store itself (true) or by scanning pages (false). */
  native: boolean;
}

export interface MapNode {
  id: string;
  kind: 'clients' | 'service' | 'host';
  calls_in: number;
  calls_out: number;
}
export interface MapEdge {
  from: string;
  to: string;
  calls: number;
  errors: number;
  error_rate: number;
  protocols: string[];
}
/** GET /api/v1/explore/servicemap */
export interface ServiceMap {
  nodes: MapNode[];
  edges: MapEdge[];
  protocols: { l7protocol: string; calls: number; errors: number }[];
  technologies: { host: string; l7protocol: string; calls: number; services: string[] }[];
  total: number;
  truncated: boolean;
  native: boolean;
}

/**
 * What the explorer's Read screen shows of one RRPair: headers in order, bodies decoded
 * (base64, then Content-Encoding gzip/deflate/br) and pretty-printed by content type, binary
 * bodies as a hex dump, and where the redaction processor left its markers.
 */
export interface BodyView {
  /** Decoding steps applied, in order (base64 always first). */
  decoded: string[];
  kind: 'empty' | 'json' | 'form' | 'xml' | 'text' | 'binary';
  content_type: string;
  /** Bytes after decoding. */
  size: number;
  /** Pretty text (json/form/xml/text) or a hex dump (binary), cut at MAX_SHOWN bytes. */
  text: string;
  truncated: boolean;
  /** Redaction markers (REDACTED-<CATEGORY>-<hex>) found in the body. */
  redactions: string[];
  error?: string;
}

export interface SideView {
  line: string;
  headers: [string, string][];
  body: BodyView;
}

export interface RRPairView {
  id: string;
  ts: string;
  duration_ms: number | undefined;
  direction: string;
  service: string;
  namespace: string;
  cluster: string;
  l7protocol: string;
  tech: string;
  network_address: string;
  command: string;
  location: string;
  status: string;
  request?: SideView;
  response?: SideView;
  tokens: unknown[];
  /** Redaction markers anywhere in the record (headers, bodies, other fields). */
  redactions: string[];
  dlp: { modified: boolean; rule?: string };
  tags: Record<string, string>;
}

