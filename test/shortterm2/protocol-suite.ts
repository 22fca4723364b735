import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RRRecord } from '../../src/core/record.js';
import type { QueryableStore } from '../../src/core/query.js';
import { generatedRecords, queryAll, reference, sampleRecords } from './support.js';

// The protocol filter (exact match on l7protocol) of a hot store: exactly the matching documents,
// alone and with a service and a time range. Used by test/shortterm2 and test/shortterm3.
const PROTOCOLS = ['http', 'grpc', 'postgres'];
function records(): RRRecord[] {
  const gen = generatedRecords(400);
  gen.forEach((r, i) => (r.rrpair.l7protocol = PROTOCOLS[Math.floor(i / 2) % 3])); // not in step with the service (i % 3)
  return [...sampleRecords(), ...gen];
}

export const fast = { sending_queue: { enabled: false }, retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '20s' }, timeout: '10s' };

export interface Backend {
  name: string;
  skip?: string;
  open(): Promise<{ store: QueryableStore; write(recs: RRRecord[]): Promise<void>; stop(): Promise<void> }>;
}

/** The protocol filter's checks against one store (the stores' own test files hold their other behaviour). */
export function protocolFilterSuite(be: Backend): void {
  describe.skipIf(be.skip)(`protocol filter: ${be.name}`, () => {
    const recs = records();
    let b: Awaited<ReturnType<Backend['open']>>;
    beforeAll(async () => {
      b = await be.open();
      await b.write(recs);
    }, 60_000);
    afterAll(async () => {
      await b?.stop();
    });

    it('returns exactly the records of one protocol, and none for an unknown one', async () => {
      for (const p of ['grpc', 'postgres', 'https']) {
        const want = reference(recs, (h) => h.doc.l7protocol === p);
        expect(want.length).toBeGreaterThan(50);
        expect(await queryAll(b.store, { protocol: p, limit: 31 })).toEqual(want);
      }
      expect(await queryAll(b.store, { protocol: 'nope' })).toEqual([]);
    });

    it('combines with a service and a time range', async () => {
      const start = new Date('2025-06-01T23:30:00Z');
      const end = new Date('2025-06-02T00:20:00Z');
      const want = reference(recs, (h) => h.doc.l7protocol === 'grpc' && h.doc.service === 'orders' && h.doc.ts >= '2025-06-01T23:30:00.000' && h.doc.ts < '2025-06-02T00:20:00.000');
      expect(want.length).toBeGreaterThan(5);
      expect(await queryAll(b.store, { protocol: 'grpc', service: 'orders', start, end, limit: 7 })).toEqual(want);
    });
  });
}
