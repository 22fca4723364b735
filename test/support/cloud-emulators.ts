import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './net.js';
import { startProcess, stopProcess } from './servers.js';

/** The Google Cloud CLI's Firestore emulator (package google-cloud-cli-firestore-emulator; needs Java). */
export function firestoreEmulator(): string {
  const candidates = [
    process.env.FIRESTORE_EMULATOR_BIN,
    '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator',
    '/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator',
  ];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? 'cloud_firestore_emulator';
}

/** Start the Firestore emulator on 127.0.0.1 (it cannot listen on port 0 and tell the port: a free one is picked). */
export async function startFirestore(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const ws = await freePort();
    try {
      const child = await startProcess(firestoreEmulator(), ['start', '--host=127.0.0.1', `--port=${port}`, `--websocket_port=${ws}`], /Dev App Server is now running/, process.env, 150_000); // a JVM: slow to start on a busy machine
      return { endpoint: `127.0.0.1:${port}`, stop: () => stopProcess(child) };
    } catch (err) {
      if (attempt >= 2) throw err; // the port was taken between freePort and the bind: try another
    }
  }
}

export interface CosmosServer {
  endpoint: string;
  port: number;
  /** Requests seen, by method and path (after any throttling). */
  requests: { method: string; path: string; headers: Record<string, string | string[] | undefined> }[];
  /** Answer the next `n` bulk (batch) requests 429 with `x-ms-retry-after-ms: retryAfterMs`, as Cosmos DB does when throttling. */
  throttle(n: number, retryAfterMs: number): void;
  throttled: number;
  stop(): Promise<void>;
}

/** @vercel/cosmosdb-server (an in-memory Cosmos DB NoSQL API over HTTPS, self-signed) on 127.0.0.1. */
export async function startCosmos(): Promise<CosmosServer> {
  const { createHttpsServer } = await import('@vercel/cosmosdb-server');
  const server = createHttpsServer();
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  let throttleLeft = 0;
  let retryAfter = 0;
  const s: CosmosServer = {
    endpoint: '',
    port: 0,
    requests: [],
    throttled: 0,
    throttle(n, ms) {
      throttleLeft = n;
      retryAfter = ms;
    },
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (throttleLeft > 0 && req.method === 'POST' && req.headers['x-ms-cosmos-is-batch-request'] !== undefined) {
      throttleLeft--;
      s.throttled++;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'x-ms-retry-after-ms': String(retryAfter), 'x-ms-substatus': '3200' });
      res.end(JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later.' }));
      return;
    }
    s.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    for (const h of handlers) h.call(server, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.port = (server.address() as AddressInfo).port;
  s.endpoint = `https://127.0.0.1:${s.port}`;
  return s;
}

export interface IdentityServer {
  /** What IDENTITY_ENDPOINT/IDENTITY_HEADER should be set to (the App Service managed identity protocol). */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** The token answered (with `jwt`: the last one issued). */
  token: string;
  requests: { url: string; headers: Record<string, string | string[] | undefined> }[];
  stop(): Promise<void>;
}

/**
 * A managed identity endpoint as App Service/Functions/Container Apps run it (IDENTITY_ENDPOINT,
 * X-IDENTITY-HEADER, api-version 2019-08-01): GET ?resource=… answers a bearer token. Only a
 * request with the right header gets one, as on Azure.
 */
export async function startIdentityServer(opts: { jwt?: boolean } = {}): Promise<IdentityServer> {
  const { createServer } = await import('node:http');
  const secret = `hdr-${Math.random().toString(36).slice(2)}`;
  let token = `tok-${Math.random().toString(36).slice(2)}`;
  const requests: IdentityServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers['x-identity-header'] !== secret || !url.searchParams.get('resource')) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request' }));
      return;
    }
    // With jwt: an Entra ID access token's claims (unsigned), which Azurite's --oauth basic checks: issuer, audience = the resource, nbf/exp.
    if (opts.jwt) {
      const now = Math.floor(Date.now() / 1000);
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      token = `${part({ typ: 'JWT', alg: 'RS256' })}.${part({ aud: url.searchParams.get('resource'), iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/', iat: now, nbf: now - 60, exp: now + 3600, oid: 'mi' })}.c2ln`;
    }
    const body = { access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get('resource'), token_type: 'Bearer', client_id: url.searchParams.get('client_id') ?? 'system' };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: secret },
    get token() {
      return token;
    },
    requests,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/**
 * An identity endpoint this process's @azure/identity uses: IDENTITY_ENDPOINT/IDENTITY_HEADER point
 * at it until stop(), which puts them back.
 */
export async function startProcessIdentity(): Promise<IdentityServer> {
  const idp = await startIdentityServer();
  const saved = Object.keys(idp.env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, idp.env);
  const stop = idp.stop;
  idp.stop = async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await stop();
  };
  return idp;
}
