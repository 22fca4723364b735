import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';

/** The `tls` block (fragments.tls()), as the Collector's configtls spells it. */
export interface TlsConfig {
  insecure?: boolean;
  insecure_skip_verify?: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  client_ca_file?: string;
  server_name_override?: string;
  min_version?: '1.2' | '1.3';
}

function read(file: string | undefined, dir: string, what: string): Buffer | undefined {
  if (!file) return undefined;
  const p = isAbsolute(file) ? file : resolve(dir, file);
  try {
    return readFileSync(p);
  } catch (err) {
    throw new Error(`tls.${what}: cannot read ${p}: ${(err as Error).message}`);
  }
}

export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** CA to verify client certificates with (mTLS), when set. */
  clientCa?: Buffer;
  minVersion?: SecureContextOptions['minVersion'];
}

/** Server TLS material, or undefined when no certificate is configured (plaintext). */
export function serverTls(cfg: TlsConfig | undefined, dir: string): ServerTls | undefined {
  if (!cfg || (!cfg.cert_file && !cfg.key_file)) return undefined;
  if (!cfg.cert_file || !cfg.key_file) throw new Error('tls: a server needs both cert_file and key_file');
  const clientCa = read(cfg.client_ca_file, dir, 'client_ca_file');
  return {
    cert: read(cfg.cert_file, dir, 'cert_file')!,
    key: read(cfg.key_file, dir, 'key_file')!,
    ...(clientCa ? { clientCa } : {}),
    ...(cfg.min_version ? { minVersion: `TLSv${cfg.min_version}` as SecureContextOptions['minVersion'] } : {}),
  };
}

export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
  minVersion?: SecureContextOptions['minVersion'];
}

/** Client TLS material. */
export function clientTls(cfg: TlsConfig | undefined, dir: string): ClientTls {
  const c = cfg ?? {};
  if (!!c.cert_file !== !!c.key_file) throw new Error('tls: a client certificate needs both cert_file and key_file');
  const ca = read(c.ca_file, dir, 'ca_file');
  const cert = read(c.cert_file, dir, 'cert_file');
  const key = read(c.key_file, dir, 'key_file');
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: !c.insecure_skip_verify,
    ...(c.server_name_override ? { servername: c.server_name_override } : {}),
    ...(c.min_version ? { minVersion: `TLSv${c.min_version}` as SecureContextOptions['minVersion'] } : {}),
  };
}
