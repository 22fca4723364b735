import { factory as cosmosFactory } from '../../src/exporters/azurecosmosdb/index.js';
import { factory as firestoreFactory } from '../../src/exporters/firestore/index.js';
import { firestoreEmulator, missing, startCosmos, startFirestore } from '../support/index.js';
import { fast, protocolFilterSuite } from '../shortterm2/protocol-suite.js';
import { build, chunks, sendAndDrain } from '../shortterm2/support.js';

// The protocol filter in azurecosmosdb and firestore (test/shortterm2/protocol-suite.ts).
protocolFilterSuite({
  name: 'azurecosmosdb (@vercel/cosmosdb-server)',
  async open() {
    const cosmos = await startCosmos();
    // @vercel/cosmosdb-server's certificate is self-signed
    const b = await build(cosmosFactory, { endpoint: cosmos.endpoint, key: 'k', database: 'rrpipe', container: 'proto', ...fast, tls: { insecure_skip_verify: true } });
    return { store: b.component, write: (recs) => sendAndDrain(b, chunks(recs, 100)), stop: async () => { await b.stop(); await cosmos.stop(); } };
  },
});

protocolFilterSuite({
  name: 'firestore (emulator)',
  skip: missing(firestoreEmulator(), 'the Google Cloud CLI\'s Firestore emulator'),
  async open() {
    const emu = await startFirestore();
    const b = await build(firestoreFactory, { project_id: 'p', collection: 'proto', endpoint: emu.endpoint, ...fast });
    return { store: b.component, write: (recs) => sendAndDrain(b, chunks(recs, 100)), stop: async () => { await b.stop(); await emu.stop(); } };
  },
});
