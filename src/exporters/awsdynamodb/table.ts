import { createHash } from 'node:crypto';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { IndexDoc } from '../../rrpair/index-doc.js';

/**
 * The table design (see README.md, "Table design"): one item per record, keyed so that a replay
 * writes the same key (idempotent), load spreads over partitions, and each query filter the
 * store serves is one key-range read per hour.
 */

/** Table key: `<service>#<hour>` / `<ts>#<id>`. */
export const PK = 'pk';
export const SK = 'sk';
/** GSI by_time: `<hour>#<shard>` / sk, for queries without a service. */
export const TPK = 'tpk';
/** GSI by_status: `<status>#<hour>` / sk, for an exact status without a service (sparse: absent when status is empty). */
export const SPK = 'spk';
/** GSI by_id: id, for get(id). */
export const ID = 'id';
/** The index document (JSON) and the full RRPair (JSON). */
export const DOC = 'doc';
export const RRPAIR = 'rrpair';

export const GSI_TIME = 'by_time';
export const GSI_STATUS = 'by_status';
export const GSI_ID = 'by_id';

/** Partition key of the hour markers: one item per hour holding data, so a query reads only those hours. */
export const HOURS_PK = '_hours';

/** "2025-06-01T23" of a normalized ts. */
export function hourOf(ts: string): string {
  return ts.slice(0, 13);
}

export function shardOf(id: string, shards: number): string {
  const h = createHash('sha1').update(id).digest().readUInt32BE(0);
  return (h % shards).toString(16).padStart(2, '0');
}

export function tablePk(service: string, hour: string): string {
  return `${service}#${hour}`;
}

export function timePk(hour: string, shard: string): string {
  return `${hour}#${shard}`;
}

export function statusPk(status: string, hour: string): string {
  return `${status}#${hour}`;
}

export function sortKey(ts: string, id: string): string {
  return `${ts}#${id}`;
}

export interface ItemOptions {
  shards: number;
  ttlAttribute: string;
  expiresAt: number;
  rrpairJson?: string;
}

/** The item written for a record. */
export function itemOf(doc: IndexDoc, o: ItemOptions): Record<string, string | number> {
  const hour = hourOf(doc.ts);
  const item: Record<string, string | number> = {
    [PK]: tablePk(doc.service, hour),
    [SK]: sortKey(doc.ts, doc.id),
    [TPK]: timePk(hour, shardOf(doc.id, o.shards)),
    [ID]: doc.id,
    [DOC]: JSON.stringify(doc),
    [o.ttlAttribute]: o.expiresAt,
  };
  if (doc.status !== '') item[SPK] = statusPk(doc.status, hour);
  if (o.rrpairJson !== undefined) item[RRPAIR] = o.rrpairJson;
  return item;
}

export function hourMarker(hour: string, ttlAttribute: string, expiresAt: number): Record<string, string | number> {
  return { [PK]: HOURS_PK, [SK]: hour, [ttlAttribute]: expiresAt };
}

/**
 * An item's size as DynamoDB counts it against the 400 KB limit: the UTF-8 length of every
 * attribute name and string value, and up to 21 bytes per number.
 */
export function itemSize(item: Record<string, string | number>): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 21);
  return n;
}

/** CreateTable input: on-demand billing, the three GSIs (the queries' projections carry only the doc). */
export function tableDefinition(table: string): CreateTableCommandInput {
  const s = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [s(PK), s(SK), s(TPK), s(SPK), s(ID)],
    KeySchema: [{ AttributeName: PK, KeyType: 'HASH' }, { AttributeName: SK, KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [
      { IndexName: GSI_TIME, KeySchema: [{ AttributeName: TPK, KeyType: 'HASH' }, { AttributeName: SK, KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [DOC] } },
      { IndexName: GSI_STATUS, KeySchema: [{ AttributeName: SPK, KeyType: 'HASH' }, { AttributeName: SK, KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [DOC] } },
      { IndexName: GSI_ID, KeySchema: [{ AttributeName: ID, KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
    ],
  };
}
