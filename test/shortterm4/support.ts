import type { QueryHit } from '../../src/core/query.js';
import type { RRRecord } from '../../src/core/record.js';
import { reference } from '../shortterm2/support.js';

export { build, chunks, generatedRecords, hugeRecord, queryAll, reference, sampleRecords, sendAndDrain, type Built } from '../shortterm2/support.js';

/** The reference of an index-only store: the index documents, no RRPair. */
export function docsOnly(records: RRRecord[], pred: (h: QueryHit) => boolean = () => true): QueryHit[] {
  return reference(records, pred).map((h) => ({ doc: h.doc }));
}

/** Settings that make an exporter retry fast and deliver inline (no queue) in tests. */
export const FAST = {
  sending_queue: { enabled: false },
  retry_on_failure: { initial_interval: '50ms', max_interval: '200ms', max_elapsed_time: '30s' },
  timeout: '5s',
};
