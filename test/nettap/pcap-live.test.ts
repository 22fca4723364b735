import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NettapPcapReceiver } from '../../src/receivers/nettap/index.js';
import type { RRPair } from '../../src/rrpair/types.js';
import { missing, pgBin, startPostgres, testHost, tmp } from '../support/index.js';
import { Collector, createNettap, decode } from './helpers.js';

const skip = missing('tcpdump', 'apt-get install tcpdump') ?? missing(pgBin('initdb'), 'apt-get install postgresql') ?? missing(pgBin('pg_ctl'), 'apt-get install postgresql');
const dir = tmp('nettap-live-');
chmodSync(dir, 0o755);
const isRoot = process.getuid?.() === 0;
let app: http.Server;
let httpPort: number;
let pgServer: Awaited<ReturnType<typeof startPostgres>>;
let pgPort: number;

beforeAll(async () => {
  if (skip) return;
  app = http.createServer((req, res) => {
    const c: Buffer[] = [];
    req.on('data', (d) => c.push(d));
    req.on('end', () => {
      if (req.url === '/gz') {
        const z = gzipSync('zipped body');
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain', 'Content-Length': z.length }).end(z);
      } else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ got: Buffer.concat(c).toString(), url: req.url }));
    });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  httpPort = (app.address() as net.AddressInfo).port;
  pgServer = await startPostgres({ user: 'app' });
  pgPort = pgServer.port;
}, 120_000);

afterAll(async () => {
  if (skip) return;
  app?.closeAllConnections();
  app?.close();
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function tcpdump(file: string, filter: string): Promise<ChildProcess> {
  const child = spawn('tcpdump', ['-i', 'lo', '-U', '-n', '--immediate-mode', ...(isRoot ? ['-Z', 'root'] : []), '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  await new Promise<void>((r) => {
    child.removeAllListeners('exit');
    child.once('exit', () => r());
    child.kill('SIGINT');
  });
}

async function httpTraffic(): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const bodies: string[] = [];
  for (const [method, path, body] of [['POST', '/orders', '{"id":1}'], ['GET', '/orders/1?full=true', ''], ['GET', '/gz', '']] as const) {
    bodies.push(
      await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: httpPort, method, path, agent, headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
          const c: Buffer[] = [];
          res.on('data', (d) => c.push(d));
          res.on('end', () => resolve(Buffer.concat(c).toString('latin1')));
        });
        req.on('error', reject);
        req.end(body);
      }),
    );
  }
  agent.destroy();
  return bodies;
}

async function pgTraffic(table = 't'): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'app', database: 'postgres' });
  client.on('error', () => {});
  await client.connect();
  await client.query('SELECT 1 AS one');
  await client.query(`CREATE TABLE ${table} (id int, name text)`);
  await client.query({ text: `INSERT INTO ${table} VALUES ($1, $2)`, values: [7, 'seven'] });
  await client.query({ text: `SELECT name FROM ${table} WHERE id = $1`, values: [7] });
  await client.query('SELECT * FROM missing_table').catch(() => {});
  await client.end();
}

function byLocation(rs: RRPair[], loc: string): RRPair {
  const r = rs.find((x) => x.location === loc);
  if (!r) throw new Error(`no record for ${loc}: ${rs.map((x) => `${x.command} ${x.location}`).join(' | ')}`);
  return r;
}

describe.skipIf(skip)('nettap pcap, real loopback traffic', () => {
  it('reads HTTP and PostgreSQL exchanges back from a tcpdump capture file', async () => {
    const file = join(dir, 'cap.pcap');
    const td = await tcpdump(file, `tcp port ${httpPort} or tcp port ${pgPort}`);
    const seen = await httpTraffic();
    await pgTraffic();
    await new Promise((r) => setTimeout(r, 300));
    await stop(td);

    const col = new Collector();
    const rx = createNettap({ mode: 'pcap', pcap: { file, local_ports: [httpPort, pgPort], postgres_ports: [pgPort] } }, col) as NettapPcapReceiver;
    await rx.start(testHost());
    await rx.done();
    await rx.shutdown(AbortSignal.timeout(1000));
    const rs = col.records.map((r) => r.rrpair);

    const post = byLocation(rs, '/orders');
    expect(post).toMatchObject({ direction: 'IN', l7protocol: 'http', command: 'POST', status: '200', network_address: `127.0.0.1:${httpPort}` });
    expect(decode(post.http!.req!.bodyBase64).toString()).toBe('{"id":1}');
    expect(decode(post.http!.res!.bodyBase64).toString('latin1')).toBe(seen[0]);
    expect(decode(byLocation(rs, '/orders/1').http!.res!.bodyBase64).toString('latin1')).toBe(seen[1]);
    const gz = byLocation(rs, '/gz');
    expect(gz.tags!.decoded).toBe('true');
    expect(decode(gz.http!.res!.bodyBase64).toString()).toBe('zipped body');

    const pgs = rs.filter((r) => r.l7protocol === 'postgres');
    const startup = pgs.find((r) => r.command === 'Startup')!;
    expect(startup).toMatchObject({ location: 'app@postgres', status: 'OK', direction: 'IN' });
    const one = byLocation(pgs, 'SELECT 1 AS one');
    expect(one).toMatchObject({ command: 'Query', status: 'OK', network_address: `127.0.0.1:${pgPort}` });
    const res = (one.postgres as { res: { messages: { type: string; values?: unknown[]; fields?: { name: string }[]; tag?: string }[] } }).res.messages;
    expect(res.find((m) => m.type === 'RowDescription')!.fields![0]!.name).toBe('one');
    expect(res.find((m) => m.type === 'DataRow')!.values).toEqual(['1']);
    expect(res.find((m) => m.type === 'CommandComplete')!.tag).toBe('SELECT 1');
    const ins = byLocation(pgs, 'INSERT INTO t VALUES ($1, $2)');
    expect(ins.command).toBe('Execute');
    const bind = (ins.postgres as { req: { messages: { type: string; parameters?: unknown[] }[] } }).req.messages.find((m) => m.type === 'Bind')!;
    expect(bind.parameters).toEqual(['7', 'seven']);
    const sel = byLocation(pgs, 'SELECT name FROM t WHERE id = $1');
    expect((sel.postgres as { res: { messages: { type: string; values?: unknown[] }[] } }).res.messages.find((m) => m.type === 'DataRow')!.values).toEqual(['seven']);
    const err = byLocation(pgs, 'SELECT * FROM missing_table');
    expect(err.status).toBe('42P01');
  });

  it('captures live from the loopback interface through tcpdump with a BPF filter', async () => {
    const col = new Collector();
    const rx = createNettap({ mode: 'pcap', pcap: { interface: 'lo', bpf_filter: `tcp port ${httpPort}`, local_ports: [httpPort] } }, col) as NettapPcapReceiver;
    await rx.start(testHost());
    try {
      await httpTraffic();
      await pgTraffic('t2'); // filtered out by BPF
      const rs = (await col.waitFor(3)).map((r) => r.rrpair);
      expect(rs.map((r) => r.location).sort()).toEqual(['/gz', '/orders', '/orders/1']);
      expect(rs.every((r) => r.l7protocol === 'http')).toBe(true);
    } finally {
      await rx.shutdown(AbortSignal.timeout(2000));
    }
  });
});
