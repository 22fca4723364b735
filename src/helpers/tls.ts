import { readFileSync } from 'node:fs';
import { rootCertificates, type ConnectionOptions, type SecureContextOptions } from 'node:tls';
import type { TlsClientConfig, TlsServerConfig } from '../config/fragments.js';

/**
 * The one reader of each TLS block (fragments.tlsClient / fragments.tlsServer): every component
 * that connects builds its options with clientTlsOptions, every listener with serverTlsOptions.
 * Paths are already absolute (the loader resolves x-path keys against the config file).
 */

function read(file: string | undefined, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`tls.${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

type Version = NonNullable<TlsClientConfig['max_version']>;
const version = (v: Version | undefined): SecureContextOptions['minVersion'] => (v ? (`TLSv${v}` as SecureContextOptions['minVersion']) : undefined);

function material(c: Partial<TlsClientConfig> | TlsServerConfig, role: string) {
  const cl = c as Partial<TlsClientConfig>;
  const caText = read(cl.ca_file, 'ca_file') ?? (cl.ca_pem ? Buffer.from(cl.ca_pem) : undefined);
  const cert = read(c.cert_file, 'cert_file') ?? (c.cert_pem ? Buffer.from(c.cert_pem) : undefined);
  const key = read(c.key_file, 'key_file') ?? (c.key_pem ? Buffer.from(c.key_pem) : undefined);
  if (!!cert !== !!key) throw new Error(`tls: ${role} needs both a certificate (cert_file) and its key (key_file)`);
  const ca = caText && cl.include_system_ca_certs_pool ? [...rootCertificates, caText.toString()] : caText;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(c.min_version ? { minVersion: version(c.min_version) } : {}),
    ...(c.max_version ? { maxVersion: version(c.max_version) } : {}),
  };
}

/** Whether a client talks TLS: `insecure: true` turns it off; an absent block leaves it to the scheme. */
export function clientUsesTls(cfg: TlsClientConfig | undefined, schemeSaysTls: boolean | undefined): boolean {
  if (schemeSaysTls !== undefined) return schemeSaysTls;
  return cfg !== undefined && cfg.insecure !== true;
}

/** Node TLS options of a client (tls.connect, https.Agent, ioredis, grpc credentials). */
export function clientTlsOptions(cfg: TlsClientConfig | undefined): ConnectionOptions {
  const c: Partial<TlsClientConfig> = cfg ?? {};
  return {
    ...material(c, 'a client certificate'),
    rejectUnauthorized: c.insecure_skip_verify !== true,
    ...(c.server_name_override ? { servername: c.server_name_override } : {}),
  };
}

export interface ServerTlsOptions extends SecureContextOptions {
  cert: Buffer;
  key: Buffer;
  /** Set when client certificates are required (mTLS): verify them against this CA. */
  clientCa?: Buffer;
}

/** Node TLS options of a listener, or undefined (plaintext) when the block is absent or names no certificate. */
export function serverTlsOptions(cfg: TlsServerConfig | undefined): ServerTlsOptions | undefined {
  if (!cfg || (!cfg.cert_file && !cfg.cert_pem && !cfg.key_file && !cfg.key_pem)) return undefined;
  const m = material(cfg, 'a server');
  if (!m.cert || !m.key) throw new Error('tls: a server needs both cert_file and key_file');
  const clientCa = read(cfg.client_ca_file, 'client_ca_file');
  return { ...m, cert: m.cert, key: m.key, ...(clientCa ? { clientCa } : {}) };
}

/** What the OTLP servers take (kept under its earlier name). */
export type ServerTls = ServerTlsOptions;
