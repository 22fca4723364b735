// Hot-store write and query speed: redis (redis-server) and bigtable (the emulator), started here
// on 127.0.0.1 with random ports and stopped at the end. Run after `npm run build`:
//   node bench/hotstores.mjs [records=20000] [batch=500]
// Prints one JSON line per store: records/s written (push of batches, no exporter queue) and
// the time of a service + time-range query of 100 hits.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { silentLogger } from '../dist/core/logger.js';
import { storeBenchRecords } from './lib.mjs';

const N = Number(process.argv[2] ?? 20000);
const BATCH = Number(process.argv[3] ?? 500);
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

async function run(name, store) {
  await store.start();
  const recs = await storeBenchRecords(N);
  const t0 = performance.now();
  for (let i = 0; i < recs.length; i += BATCH) await store.push(recs.slice(i, i + BATCH));
  const secs = (performance.now() - t0) / 1000;
  const q0 = performance.now();
  const page = await store.query({ service: 'payments', start: new Date('2025-06-01T00:05:00Z'), end: new Date('2025-06-01T00:30:00Z'), limit: 100 });
  const qms = performance.now() - q0;
  await store.shutdown();
  console.log(JSON.stringify({ store: name, records: N, batch: BATCH, records_per_s: Math.round(N / secs), query_100_hits_ms: Math.round(qms), hits: page.hits.length }));
}

const helper = { timeout: 30000, sending_queue: { enabled: false }, retry_on_failure: { enabled: false } };

if (existsSync('/usr/bin/redis-server')) {
  const port = await freePort();
  const { child } = await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  try {
    const { RedisStore } = await import('../dist/exporters/redis/index.js');
    await run('redis', new RedisStore({ ...helper, endpoint: `127.0.0.1:${port}`, db: 0, cluster: { enabled: false, nodes: [] }, key_prefix: 'bench:', ttl: 3600000, store_rrpair: true, connect_timeout: 5000 }, process.cwd(), silentLogger()));
  } finally {
    child.kill();
  }
}

if (existsSync(EMULATOR)) {
  const { child, match } = await start(EMULATOR, ['-host', '127.0.0.1', '-port', '0'], /running on (127\.0\.0\.1:\d+)/);
  try {
    const { BigtableStore } = await import('../dist/exporters/bigtable/index.js');
    await run('bigtable (emulator)', new BigtableStore({ ...helper, project_id: 'p', instance_id: 'i', table_id: 'bench', endpoint: match[1], create_table: true, retention: 86400000, store_rrpair: true, salt_buckets: 16, max_cell_size: 10 << 20, max_request_size: 16 << 20 }, process.cwd(), silentLogger()));
  } finally {
    child.kill();
  }
}

{
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
