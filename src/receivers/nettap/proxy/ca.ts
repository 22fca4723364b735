import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import forge from 'node-forge';

export interface CaPaths {
  certFile: string;
  keyFile: string;
}

/** Where `rrpipe ca` and the proxy keep the CA unless told otherwise. */
export function defaultCaDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RRPIPE_CA_DIR || join(homedir(), '.rrpipe', 'ca');
}

export function caPaths(dir: string): CaPaths {
  return { certFile: join(dir, 'rrpipe-ca.pem'), keyFile: join(dir, 'rrpipe-ca-key.pem') };
}

function newKeyPem(): string {
  // Node's native RSA is much faster than node-forge's; forge only builds and signs certificates.
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

/** Create the CA in `dir` unless it is there already; returns the paths and whether it was created. */
export function ensureCa(dir: string, opts: { commonName?: string; days?: number } = {}): CaPaths & { created: boolean } {
  const p = caPaths(dir);
  if (existsSync(p.certFile) && existsSync(p.keyFile)) return { ...p, created: false };
  mkdirSync(dir, { recursive: true });
  const keyPem = newKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const pub = forge.pki.setRsaPublicKey(key.n, key.e);
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600_000);
  cert.validity.notAfter = new Date(Date.now() + (opts.days ?? 3650) * 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: opts.commonName ?? 'rrpipe nettap CA' }, { name: 'organizationName', value: 'rrpipe' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  writeFileSync(p.keyFile, keyPem, { mode: 0o600 });
  chmodSync(p.keyFile, 0o600);
  writeFileSync(p.certFile, forge.pki.certificateToPem(cert));
  return { ...p, created: true };
}

/** Issues (and caches) leaf certificates for intercepted hosts, signed by the CA. */
export class CertAuthority {
  readonly certPem: string;
  private readonly caKey: forge.pki.rsa.PrivateKey;
  private readonly caCert: forge.pki.Certificate;
  private readonly leafKeyPem: string;
  private readonly leafPub: forge.pki.rsa.PublicKey;
  private readonly cache = new Map<string, SecureContext>();

  constructor(paths: CaPaths) {
    this.certPem = readFileSync(paths.certFile, 'utf8');
    this.caCert = forge.pki.certificateFromPem(this.certPem);
    this.caKey = forge.pki.privateKeyFromPem(readFileSync(paths.keyFile, 'utf8'));
    // One key for every leaf certificate (as mitmproxy does): a key per host costs too much.
    this.leafKeyPem = newKeyPem();
    const lk = forge.pki.privateKeyFromPem(this.leafKeyPem);
    this.leafPub = forge.pki.setRsaPublicKey(lk.n, lk.e);
  }

  /** A TLS context presenting a certificate for `host`, signed by the CA. */
  contextFor(host: string, alpn?: string[]): SecureContext {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '') || 'localhost';
    let ctx = this.cache.get(name);
    if (!ctx) {
      ctx = createSecureContext({ key: this.leafKeyPem, cert: this.leafPem(name) + this.certPem });
      if (this.cache.size > 1000) this.cache.clear();
      this.cache.set(name, ctx);
    }
    void alpn;
    return ctx;
  }

  private leafPem(name: string): string {
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.leafPub;
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 24 * 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
    cert.setSubject([{ name: 'commonName', value: name.slice(0, 64) }]);
    cert.setIssuer(this.caCert.subject.attributes);
    const alt = isIP(name) ? { type: 7, ip: name } : { type: 2, value: name };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [alt] },
    ]);
    cert.sign(this.caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }
}
