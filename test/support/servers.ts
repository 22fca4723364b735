import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bigtableEmulator, pgBin } from './backend.js';
import { freePort } from './net.js';
import { tmpDir } from './tmp.js';

/*
 * Every server and emulator the tests run, each started on 127.0.0.1 on a free port and stopped
 * by the returned stop(). The wire fakes (GCS, Kusto, OpenSearch/Elasticsearch), used only where
 * no real server or emulator can run here, live in test/fakes/ and are re-exported by index.ts.
 */

const ROOT = resolve(import.meta.dirname, '../..');

export type Started = ChildProcess & { banner: string };

/** Start a server process and wait until `ready` matches its output (or it exits, or `timeoutMs` passes). */
export async function startProcess(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<Started> {
  // Its own process group: emulators are often a launcher script whose JVM would outlive a signal sent to the script alone.
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const kill = () => signalGroup(child, 'SIGKILL');
  killers.add(kill);
  child.once('exit', () => killers.delete(kill));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`${cmd} did not start in ${timeoutMs}ms: ${out.slice(-2000)}`));
    }, timeoutMs);
    const on = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code}: ${out.slice(-2000)}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return Object.assign(child, { banner: ready.exec(out)![0] });
}

/*
 * The servers die with the process that started them (vitest's fork of a test file) however it
 * ends: exit (a crash, a timeout, no afterAll), SIGINT (Ctrl-C reaches the whole foreground group),
 * SIGTERM (vitest stopping its fork), SIGHUP, or its parent gone (a CI job's SIGTERM to vitest
 * alone: the fork is not signalled, its IPC channel closes). One synchronous kill per running
 * server, kept on globalThis so that the handlers are installed once per process however many
 * times this module is evaluated in it.
 */
const KEY = Symbol.for('rrpipe.test.serverKillers');
const killers: Set<() => void> = ((globalThis as Record<symbol, Set<() => void> | undefined>)[KEY] ??= installCleanup(new Set()));

function installCleanup(set: Set<() => void>): Set<() => void> {
  const killAll = () => {
    for (const kill of set) kill();
  };
  process.once('exit', killAll);
  process.once('disconnect', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      // Another listener (vitest's own, a test's) decides what the signal does; alone, ours is
      // gone (once), so the re-raised signal ends the process as if no handler had been installed.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
  return set;
}

/**
 * A child that is not one of our servers (rrpipe under test, RrpipeProcess) dies with this process
 * the same ways. It shares our process group, so Ctrl-C reaches it anyway; SIGKILL to it alone.
 */
export function dieWithTestProcess(child: ChildProcess): void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  killers.add(kill);
  child.once('exit', () => killers.delete(kill));
}

/** Signal the process group a started server leads (the server and whatever it launched). */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, sig);
  } catch {
    child.kill(sig); // not a group leader (e.g. spawned elsewhere): the process alone
  }
}

/** SIGTERM to the server's process group, then SIGKILL after 5 s; resolves when the server has exited. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    signalGroup(child, 'SIGKILL'); // what it launched may still run
    return;
  }
  const exited = new Promise((r) => child.once('exit', r));
  signalGroup(child, 'SIGTERM');
  const t = setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
  signalGroup(child, 'SIGKILL'); // whatever it launched and did not take down with it
}

export interface S3Event {
  eventName: string;
  s3: { object: { key: string; size?: number } };
}

/** s3rver (npm dev dependency) with the given buckets; `events` are its S3 notifications (ObjectCreated:Put, :Post for a completed multipart upload). */
export async function startS3(buckets: string[]): Promise<{ endpoint: string; dir: string; events: S3Event[]; stop(): Promise<void> }> {
  const { default: S3rver } = await import('s3rver');
  const t = tmpDir('rrpipe-s3-');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: t.dir, configureBuckets: buckets.map((name) => ({ name })) });
  const events: S3Event[] = [];
  server.on('event', (e) => events.push(...e.Records));
  const addr = await server.run();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    dir: t.dir,
    events,
    async stop() {
      await server.close();
      t.cleanup();
    },
  };
}

/** Azurite's well-known development account and key. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Azurite (npm dev dependency): its blob service, and its queue service when asked for. With `tls`
 * it serves HTTPS; with `oauth` too, it takes Entra ID bearer tokens (--oauth basic: issuer,
 * audience and expiry checked, not the signature).
 */
export async function startAzurite(opts: { queue?: boolean; tls?: { cert: string; key: string }; oauth?: boolean } = {}): Promise<{ blobUrl: string; queueUrl: string; connectionString: string; stop(): Promise<void> }> {
  const t = tmpDir('rrpipe-azurite-');
  const children: Started[] = [];
  const stop = async () => {
    for (const c of children) await stopProcess(c);
    t.cleanup();
  };
  const start = async (service: 'blob' | 'queue') => {
    const child = await startProcess(join(ROOT, 'node_modules', '.bin', `azurite-${service}`), [
      `--${service}Host`, '127.0.0.1', `--${service}Port`, '0', '--location', join(t.dir, service),
      '--skipApiVersionCheck', '--loose', '--disableProductStyleUrl', '--disableTelemetry',
      ...(opts.tls ? ['--cert', opts.tls.cert, '--key', opts.tls.key] : []),
      ...(opts.oauth ? ['--oauth', 'basic'] : []),
    ], /(?:listening at|listens on) https?:\/\/127\.0\.0\.1:\d+/, process.env, 60_000);
    children.push(child);
    return /https?:\/\/127\.0\.0\.1:\d+/.exec(child.banner)![0];
  };
  try {
    const blobUrl = await start('blob');
    const queueUrl = opts.queue ? await start('queue') : '';
    return {
      blobUrl,
      queueUrl,
      connectionString: `DefaultEndpointsProtocol=${opts.tls ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobUrl}/${AZURITE_ACCOUNT};`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface RedisServer {
  port: number;
  dir: string;
  child: Started;
  stop(): Promise<void>;
}

/**
 * redis-server (Debian package redis-server) in `dir` (a new temp dir when not given, removed by
 * stop()); `port` to start it again where a previous one ran.
 */
export async function startRedis(opts: { port?: number; dir?: string; args?: string[] } = {}): Promise<RedisServer> {
  const own = opts.dir ? undefined : tmpDir('rrpipe-redis-');
  const dir = opts.dir ?? own!.dir;
  const port = opts.port ?? (await freePort());
  const child = await startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...(opts.args ?? [])], /Ready to accept connections/);
  return {
    port, dir, child,
    async stop() {
      await stopProcess(child);
      own?.cleanup();
    },
  };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd} ${args[0] ?? ''} failed: ${stderr || err.message}`)) : resolve()));
  });
}

/**
 * A throwaway PostgreSQL cluster (Debian package postgresql): initdb with trust auth for `user`,
 * pg_ctl start on 127.0.0.1. PostgreSQL refuses to run as root, so as root it runs as nobody.
 */
export async function startPostgres(opts: { user?: string } = {}): Promise<{ port: number; user: string; dir: string; postmaster: number; stop(): Promise<void> }> {
  const t = tmpDir('rrpipe-pg-');
  const isRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]): [string, string[]] => (isRoot ? ['runuser', ['-u', 'nobody', '--', cmd, ...args]] : [cmd, args]);
  const data = join(t.dir, 'pgdata');
  const sock = join(t.dir, 'sock');
  for (const d of [t.dir, data, sock]) {
    mkdirSync(d, { recursive: true });
    if (isRoot) chownSync(d, 65534, 65534);
  }
  const user = opts.user ?? 'app';
  const port = await freePort();
  await run(...as(pgBin('initdb'), ['-D', data, '-A', 'trust', '-U', user, '--no-sync']));
  await run(...as(pgBin('pg_ctl'), ['-D', data, '-w', '-l', join(sock, 'log'), '-o', `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']));
  // pg_ctl leaves the postmaster in a session of its own, not a child of ours. SIGQUIT is pg_ctl's
  // immediate shutdown: the postmaster takes down its backends, which a group signal would miss
  // (each has a process group of its own).
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const kill = () => {
    try {
      process.kill(postmaster, 'SIGQUIT');
    } catch {
      // already gone
    }
  };
  killers.add(kill);
  return {
    port, user, dir: t.dir, postmaster,
    async stop() {
      killers.delete(kill);
      await run(...as(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'])).catch(() => undefined);
      t.cleanup();
    },
  };
}

/** The Google Cloud CLI's Bigtable emulator (cbtemulator) on a free port; `endpoint` is host:port. */
export async function startBigtable(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = await startProcess(bigtableEmulator(), ['-host', '127.0.0.1', '-port', '0'], /running on 127\.0\.0\.1:\d+/);
  return { endpoint: /127\.0\.0\.1:\d+/.exec(child.banner)![0], stop: () => stopProcess(child) };
}
