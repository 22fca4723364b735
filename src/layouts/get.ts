import type { RRPair } from '../rrpair/types.js';
import { readObject } from './reader.js';
import { openLocation, type StoreConnection } from './uri.js';

/** The RRPair at a location (s3://bucket/key#line, gs://…, azblob://…, abfss://…, file://…#line). */
export async function getRecordAt(location: string, conn: StoreConnection = {}): Promise<RRPair> {
  const loc = openLocation(location, conn, { fileIsObject: true });
  if (!loc.line) throw new Error(`${location}: no #line (the record's line or position in the object)`);
  try {
    for await (const item of readObject(loc.store, loc.key)) {
      if (item.kind === 'record' && item.pos === loc.line) return item.record.rrpair;
      if (item.kind === 'record' && item.pos > loc.line) break;
    }
  } finally {
    await loc.store.close?.();
  }
  throw new Error(`${location}: no RRPair at position ${loc.line}`);
}
