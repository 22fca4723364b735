import type { Component, ExtensionFactory, Host } from '../../core/component.js';
import { address, obj, str, tlsServer, type Config } from '../../config/fragments.js';
import { listenHttp } from '../../helpers/net.js';
import { serverTlsOptions } from '../../helpers/tls.js';

/** GET <path> answers 200 when every pipeline is running, 503 otherwise, with the status as JSON. */
export function createHealthCheck(config: HealthCheckConfig, onListening?: (port: number) => void): Component & { port?: number } {
  let server: Awaited<ReturnType<typeof listenHttp>> | undefined;
  const ext: Component & { port?: number } = {
    async start(host: Host) {
      server = await listenHttp(config.endpoint, 13133, (req, res) => {
        const path = req.url?.split('?')[0];
        if (path !== config.path) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end(`not found: health is at ${config.path}\n`);
          return;
        }
        const st = host.status();
        res.writeHead(st.running ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: st.running ? 'Server available' : 'Server not available', pipelines: st.pipelines, components: st.components }));
      }, serverTlsOptions(config.tls));
      ext.port = server.port;
      onListening?.(ext.port);
    },
    async shutdown() {
      const s = server;
      server = undefined;
      await s?.close();
    },
  };
  return ext;
}

const schema = obj({
  endpoint: address('localhost:13133', 'host:port to listen on.'),
  path: str('/', 'Path that answers the health check.'),
  tls: tlsServer(),
});

export type HealthCheckConfig = Config<typeof schema>;

export const factory: ExtensionFactory<HealthCheckConfig> = {
  kind: 'extension',
  type: 'health_check',
  stability: 'stable',
  description: 'HTTP health endpoint: 200 when every pipeline is running, 503 otherwise.',
  schema,
  create: (s) => createHealthCheck(s.config, (port) => s.logger.info({ port }, 'health check listening')),
};
