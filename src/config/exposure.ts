/**
 * Which admin endpoints (health, query API, metrics) a config serves beyond loopback without
 * authentication. `validate` and `run` print these as warnings: health and metrics often must be
 * reachable (kubelet probes, Prometheus), but the operator should know who can read them.
 */

/** The host part of "host:port", "[v6]:port" or ":port" ("" means every interface). */
export function hostOf(endpoint: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::\d+)?$/.exec(endpoint.trim());
  return m ? (m[1] ?? m[2] ?? '') : endpoint;
}

export function isLoopback(endpoint: string): boolean {
  const h = hostOf(endpoint).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

interface AdminEndpoint {
  where: string;
  endpoint: string;
  authenticated: boolean;
  what: string;
}

/** Admin endpoints of resolved component configs and the metrics address. */
export function adminExposureWarnings(extensions: Map<string, { type: string; config: unknown }>, metricsAddress: string | undefined): string[] {
  const eps: AdminEndpoint[] = [];
  for (const [id, c] of extensions) {
    const cfg = c.config as { endpoint?: string; bearer_token?: string };
    if (c.type === 'health_check' && cfg.endpoint) eps.push({ where: `extensions.${id}`, endpoint: cfg.endpoint, authenticated: false, what: 'pipeline status' });
    if (c.type === 'query_api' && cfg.endpoint) eps.push({ where: `extensions.${id}`, endpoint: cfg.endpoint, authenticated: !!cfg.bearer_token, what: 'stored RRPairs' });
  }
  if (metricsAddress) eps.push({ where: 'service.telemetry.metrics', endpoint: metricsAddress, authenticated: false, what: 'metrics' });
  return eps
    .filter((e) => !e.authenticated && !isLoopback(e.endpoint))
    .map((e) => `${e.where}: listens on ${e.endpoint}, beyond loopback, without authentication: anyone who can reach that port can read its ${e.what}`);
}
