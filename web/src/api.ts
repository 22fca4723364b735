// The explorer's calls to the query API. The bearer token (when the daemon needs one) is kept in
// sessionStorage for this tab only and sent as the API expects it: Authorization: Bearer <token>.

// The server's own types (type-only: esbuild drops them) and the one constant the page shares.
export type { IndexDoc } from '../../src/core/rrpair';
export type { Histogram, RRPairView, ServiceMap, SideView } from '../../src/extensions/query_api/ui/types';
export { UNKNOWN } from '../../src/extensions/query_api/ui/types';

export interface Filters {
  start: string;
  end: string;
  cluster: string;
  namespace: string;
  service: string;
  direction: string;
  protocol: string;
  method: string;
  endpoint: string;
  status: string;
}

export const EMPTY: Filters = { start: '-1h', end: 'now', cluster: '', namespace: '', service: '', direction: '', protocol: '', method: '', endpoint: '', status: '' };

export class AuthNeeded extends Error {}

const TOKEN_KEY = 'rrpipe.token';
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
};

export function params(f: Filters, extra: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== '') q.set(k, v);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}

export async function call(path: string): Promise<Response> {
  const t = token.get();
  const res = await fetch(path, { headers: t ? { authorization: `Bearer ${t}` } : {} });
  if (res.status === 401) throw new AuthNeeded('this rrpipe needs a bearer token');
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await call(path);
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}
