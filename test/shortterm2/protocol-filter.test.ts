import { factory as bigtableFactory } from '../../src/exporters/bigtable/index.js';
import { factory as dynamoFactory } from '../../src/exporters/awsdynamodb/index.js';
import { factory as redisFactory } from '../../src/exporters/redis/index.js';
import { bigtableEmulator, FakeKusto, missing, startBigtable, startDynalite, startRedis } from '../support/index.js';
import { fast, protocolFilterSuite, type Backend } from './protocol-suite.js';
import { adxStoreOn, build, chunks, sendAndDrain } from './support.js';

// The protocol filter in redis, bigtable, awsdynamodb and azuredataexplorer (test/shortterm2/protocol-suite.ts).
const backends: Backend[] = [
  {
    name: 'redis (redis-server)',
    skip: missing('redis-server', 'apt-get install redis-server'),
    async open() {
      const server = await startRedis();
      const b = await build(redisFactory, { endpoint: `127.0.0.1:${server.port}`, ...fast });
      return { store: b.component, write: (recs) => sendAndDrain(b, chunks(recs, 100)), stop: async () => { await b.stop(); await server.stop(); } };
    },
  },
  {
    name: 'bigtable (emulator)',
    skip: missing(bigtableEmulator(), 'the Google Cloud CLI\'s Bigtable emulator'),
    async open() {
      const emu = await startBigtable();
      const b = await build(bigtableFactory, { project_id: 'p', instance_id: 'i', table_id: 'proto', endpoint: emu.endpoint, ...fast });
      return { store: b.component, write: (recs) => sendAndDrain(b, chunks(recs, 100)), stop: async () => { await b.stop(); await emu.stop(); } };
    },
  },
  {
    name: 'awsdynamodb (dynalite)',
    async open() {
      const db = await startDynalite();
      const b = await build(dynamoFactory, { endpoint: db.endpoint, region: 'us-east-1', table_name: 'proto', create_table: true, ...fast, max_attempts: 1 });
      return { store: b.component, write: (recs) => sendAndDrain(b, chunks(recs, 100)), stop: async () => { await b.stop(); await db.stop(); } };
    },
  },
  {
    name: 'azuredataexplorer (Kusto wire fake)',
    async open() {
      const kusto = new FakeKusto();
      await kusto.start();
      const store = await adxStoreOn(kusto);
      return {
        store,
        write: async (recs) => { for (const b of chunks(recs, 100)) await store.push(b); },
        stop: async () => { await store.shutdown(); await kusto.stop(); },
      };
    },
  },
];

for (const be of backends) protocolFilterSuite(be);
