// Hot-store write and query speed: redis (redis-server) and bigtable (the emulator), started here
// on 127.0.0.1 with random ports and stopped at the end. Run after `npm run build`:
//   node bench/hotstores.mjs [records=20000] [batch=500]
// Prints one JSON line per store: records/s written (push of batches, no exporter queue), the
// CPU seconds per 100k records written (this process, plus the server's when it is a child
// process: /proc/<pid>/stat) and the time of a service + time-range query of 100 hits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { silentLogger } from '../dist/core/logger.js';
import { storeBenchRecords } from './lib.mjs';
import { validateAgainst } from '../dist/config/validate-schema.js';

const N = Number(process.argv[2] ?? 20000);
const BATCH = Number(process.argv[3] ?? 500);
const ONLY = process.argv[4]?.split(','); // e.g. awsdynamodb,firestore,azurecosmosdb
const want = (name) => !ONLY || ONLY.includes(name);
const EMULATOR = '/usr/lib/google-cloud-sdk/platform/bigtable-emulator/cbtemulator';

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function start(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const on = (d) => { out += d; const m = ready.exec(out); if (m) resolve({ child, match: m }); };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (c) => reject(new Error(`${cmd} exited ${c}: ${out}`)));
  });
}

/** user+system CPU seconds of a child process and its descendants (Linux /proc, clock ticks of 1/100 s). */
function childCpu(pid) {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const own = (Number(f[11]) + Number(f[12])) / 100;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return own + kids.reduce((sum, k) => sum + childCpu(Number(k)), 0);
  } catch {
    return 0;
  }
}

/** A component config with its schema's defaults filled in. */
function configOf(schema, raw) {
  const c = structuredClone(raw);
  const problems = validateAgainst(schema, c);
  if (problems.length) throw new Error(JSON.stringify(problems));
  return c;
}

async function run(name, store, serverPid) {
  await store.start();
  const recs = await storeBenchRecords(N);
  const cpu0 = process.cpuUsage();
  const srv0 = childCpu(serverPid);
  const t0 = performance.now();
  for (let i = 0; i < recs.length; i += BATCH) await store.push(recs.slice(i, i + BATCH));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6 + childCpu(serverPid) - srv0;
  const q0 = performance.now();
  const page = await store.query({ service: 'payments', start: new Date('2025-06-01T00:05:00Z'), end: new Date('2025-06-01T00:30:00Z'), limit: 100 });
  const qms = performance.now() - q0;
  await store.shutdown();
  console.log(JSON.stringify({ store: name, records: N, batch: BATCH, records_per_s: Math.round(N / secs), cpu_s_per_100k: Number(((cpuSecs * 100_000) / N).toFixed(1)), query_100_hits_ms: Math.round(qms), hits: page.hits.length, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

const helper = { timeout: 30000, sending_queue: { enabled: false }, retry_on_failure: { enabled: false } };

if (want('redis') && existsSync('/usr/bin/redis-server')) {
  const port = await freePort();
  const { child } = await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  try {
    const { RedisStore } = await import('../dist/exporters/redis/index.js');
    await run('redis', new RedisStore({ ...helper, endpoint: `127.0.0.1:${port}`, db: 0, cluster: { enabled: false, nodes: [] }, key_prefix: 'bench:', ttl: 3600000, store_rrpair: true, connect_timeout: 5000 }, process.cwd(), silentLogger()));
  } finally {
    child.kill();
  }
}

if (want('bigtable') && existsSync(EMULATOR)) {
  const { child, match } = await start(EMULATOR, ['-host', '127.0.0.1', '-port', '0'], /running on (127\.0\.0\.1:\d+)/);
  try {
    const { BigtableStore } = await import('../dist/exporters/bigtable/index.js');
    await run('bigtable (emulator)', new BigtableStore({ ...helper, project_id: 'p', instance_id: 'i', table_id: 'bench', endpoint: match[1], create_table: true, retention: 86400000, store_rrpair: true, salt_buckets: 16, max_cell_size: 10 << 20, max_request_size: 16 << 20 }, process.cwd(), silentLogger()));
  } finally {
    child.kill();
  }
}

if (want('awsdynamodb')) {
  // dynalite (npm dev dependency): the DynamoDB API on an in-memory LevelDB, in this process.
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  try {
    const { DynamoStore } = await import('../dist/exporters/awsdynamodb/store.js');
    await run('awsdynamodb (dynalite)', new DynamoStore({
      ...helper, region: 'us-east-1', endpoint: `http://127.0.0.1:${server.address().port}`, table_name: 'bench', create_table: true, configure_ttl: false,
      ttl: 3600000, ttl_attribute: 'expires_at', store_rrpair: true, time_shards: 4, max_item_size: 400 << 10, concurrency: 4, max_attempts: 3,
    }, silentLogger()));
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const FIRESTORE = ['/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator', '/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator'].find((p) => existsSync(p));
if (want('firestore') && FIRESTORE) {
  // The Google Cloud CLI's Firestore emulator (a JVM), a child process: its CPU is counted too.
  const port = await freePort();
  const { child } = await start(FIRESTORE, ['start', '--host=127.0.0.1', `--port=${port}`, `--websocket_port=${await freePort()}`], /Dev App Server is now running/);
  try {
    const { factory, FirestoreStore } = await import('../dist/exporters/firestore/index.js');
    const cfg = configOf(factory.schema, { ...helper, project_id: 'p', collection: 'bench', endpoint: `127.0.0.1:${port}`, initial_ops_per_second: 20000, max_ops_per_second: 20000 });
    await run('firestore (emulator)', new FirestoreStore(cfg, process.cwd(), silentLogger()), child.pid);
  } finally {
    child.kill();
  }
}

if (want('azurecosmosdb')) {
  // @vercel/cosmosdb-server (npm dev dependency): the Cosmos DB NoSQL API over HTTPS, in this process.
  const { createHttpsServer } = await import('@vercel/cosmosdb-server');
  const server = createHttpsServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { factory, CosmosStore } = await import('../dist/exporters/azurecosmosdb/index.js');
    const cfg = configOf(factory.schema, { ...helper, endpoint: `https://127.0.0.1:${server.address().port}`, key: 'k', database: 'bench', container: 'bench', tls: { insecure_skip_verify: true } });
    await run('azurecosmosdb (@vercel/cosmosdb-server)', new CosmosStore(cfg, silentLogger()));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
