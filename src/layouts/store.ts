import type { Readable } from 'node:stream';

/** One object in a listing. */
export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  contentType?: string;
  contentEncoding?: string;
  /** Fail with ObjectExistsError instead of overwriting (where the backend supports it). */
  ifNoneMatch?: boolean;
}

export class ObjectExistsError extends Error {
  override name = 'ObjectExistsError';
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/**
 * The few operations every long-term store offers: whole-object writes (an object is written
 * whole or not at all), prefix listings, streamed reads. Keys use "/" as the separator.
 */
export interface ObjectStore {
  /** "s3", "gs", "azblob", "abfss" or "file". */
  readonly scheme: string;
  /** The URI of a key, e.g. s3://bucket/key (without #line). */
  uri(key: string): string;
  put(key: string, body: Buffer, opts?: PutOptions): Promise<void>;
  /** Every object whose key starts with prefix (recursively), in key order per page. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** A streamed read of the whole object. */
  get(key: string): Promise<Readable>;
  /** The object as a buffer, or undefined when it does not exist. */
  getSmall(key: string): Promise<Buffer | undefined>;
  close?(): Promise<void>;
}

export async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** A whole object read into memory, or undefined when it does not exist (getSmall of the remote stores). */
export async function readIfExists(st: Pick<ObjectStore, 'get'>, key: string): Promise<Buffer | undefined> {
  try {
    return await readAll(await st.get(key));
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** Join key parts with single slashes, ignoring empty parts. */
export function joinKey(...parts: (string | undefined)[]): string {
  return parts
    .filter((p): p is string => !!p)
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .filter((p) => p !== '')
    .join('/');
}

/** A key as it appears in a location URI: "%", "#", "?" and whitespace %-escaped (decoded by openLocation). */
export function encodeKey(key: string): string {
  return key.replace(/[%#?\s]/g, (c) => encodeURIComponent(c));
}
