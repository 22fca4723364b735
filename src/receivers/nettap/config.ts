import { address, bool, bytes, duration, int, list, obj, oneOf, path, str, strings, tlsClient, type Config } from '../../config/fragments.js';

const ints = (def: number[], description: string) => list(int(undefined, undefined, { minimum: 0, maximum: 65535 }), def, description);

export const schema = obj({
  mode: oneOf(['proxy', 'pcap'], 'proxy', 'proxy: a capturing reverse (inbound) and/or forward (outbound) proxy. pcap: passive capture from an interface or a pcap/pcapng file.'),
  cluster: str(undefined, 'Cluster name for the records; default $CLUSTER_NAME.'),
  namespace: str(undefined, 'Namespace for the records; default $POD_NAMESPACE (downward API).'),
  service: str(undefined, 'Service name for the records; default $SERVICE_NAME, $APP_LABEL, or $POD_NAME without its replica suffix.'),
  max_body_size: bytes('1MiB', 'Bodies longer than this are truncated in the record (tags.requestBodyTruncated / responseBodyTruncated); traffic is never changed.'),
  buffer: obj({
    max_records: int(10000, 'Captures waiting for the pipeline; beyond this they are dropped and counted (capture_overflow), never slowing the application.', { minimum: 1 }),
    batch_size: int(100, 'Records per batch handed to the pipeline.', { minimum: 1 }),
    max_in_flight: int(4, 'Batches handed to the pipeline at once.', { minimum: 1 }),
  }, { default: {} }),
  proxy: obj({
    inbound: obj({
      listen: address('localhost:4143', 'Address the reverse proxy listens on (clients connect here); 0.0.0.0:4143 to take traffic from other hosts.'),
      upstream: address(undefined, 'The application: http://host:port or https://host:port.'),
    }, { required: ['upstream'], description: 'Reverse proxy in front of the service; records direction IN.' }),
    outbound: obj({
      listen: address('127.0.0.1:4140', 'Address of the forward proxy (HTTP_PROXY / HTTPS_PROXY).'),
      intercept_tls: bool(true, 'Terminate CONNECT tunnels with a certificate from the CA, to record HTTPS; off records tunnel metadata only.'),
      no_intercept: strings([], 'Hosts ("api.example.com" or "*.example.com") passed through without interception.'),
    }, { description: 'Forward proxy for the service\'s outgoing calls; records direction OUT.' }),
    ca_dir: path(undefined, 'Directory of the interception CA (rrpipe-ca.pem, rrpipe-ca-key.pem), created if absent; default $RRPIPE_CA_DIR or ~/.rrpipe/ca (same as `rrpipe ca`).'),
    upstream_tls: tlsClient('TLS to https:// upstreams and intercepted CONNECT targets (OTel configtls.ClientConfig; insecure has no effect).'),
    limits: obj({
      max_connections_per_client: int(1024, 'Open connections one client address may hold on a listener set; more are closed at once (counted: connection_limit). 0 = no limit.', { minimum: 0 }),
      requests_per_second_per_client: int(2000, 'Sustained requests a second per client address (bursts of twice that); more are answered 429 and not captured (rate_limited). 0 = no limit.', { minimum: 0 }),
    }, { default: {} }),
  }, { default: {} }),
  pcap: obj({
    file: path(undefined, 'Read this pcap or pcapng file once, then finish.'),
    interface: str(undefined, 'Capture live from this interface ("any", "eth0", "lo") through tcpdump.'),
    bpf_filter: str('tcp', 'BPF filter for live capture (tcpdump syntax); also narrows nothing when reading a file.'),
    tcpdump_path: str('tcpdump', 'The tcpdump binary used for live capture.'),
    snaplen: int(262144, 'Bytes captured per packet in live capture.', { minimum: 64 }),
    local_ports: ints([], 'Ports of the services on this host: a connection to one of them is IN, any other OUT.'),
    local_addresses: strings([], 'Addresses of this host or pod: a connection to one of them is IN (used with or without local_ports).'),
    postgres_ports: ints([5432], 'Server ports treated as Postgres even when the capture starts mid-connection.'),
    idle_timeout: duration('5m', 'Forget a TCP connection idle this long.'),
  }, { default: {} }),
});

export type NettapConfig = Config<typeof schema>;
