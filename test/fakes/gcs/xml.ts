/**
 * The subset of Cloud Storage's S3-compatible XML API (cloud.google.com/storage/docs/interoperability)
 * that the AWS SDK for JavaScript v3 sends for the awss3 exporter and the S3 listing: PUT Object and
 * GET Bucket (ListObjectsV2), path style (`/<bucket>/<object>`), signed with AWS Signature V4 by an
 * HMAC key (access id + secret) as GCS verifies it. Written from the AWS SigV4 and GCS XML API
 * references. Everything else is refused (recorded in the FakeGcs `rejected` list), including:
 * - the AWS SDK's default flexible checksums (`x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm`,
 *   `aws-chunked` bodies with a trailer): GCS answers them with 400, a known incompatibility since
 *   the SDKs' January 2025 default (www.beginswithdata.com/2025/05/14/aws-s3-tools-with-gcs), so a
 *   client must send them only when required;
 * - unsigned or streaming payloads: `x-amz-content-sha256` must be the body's SHA-256.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface XmlObject {
  name: string;
  data: Buffer;
  contentType: string;
  updated: string;
}

/** The part of the fake's state the XML API works on. */
export interface XmlBackend {
  hmacKeys: Map<string, string>;
  bucket(name: string): Map<string, XmlObject> | undefined;
  put(bucket: string, o: Omit<XmlObject, 'updated'> & { storageClass?: string }): void;
  reject(why: string): void;
}

const PUT_HEADERS = new Set([
  'host', 'content-type', 'content-length', 'content-md5', 'x-amz-date', 'x-amz-content-sha256', 'authorization',
  'x-amz-user-agent', 'user-agent', 'amz-sdk-invocation-id', 'amz-sdk-request', 'connection', 'expect', 'accept-encoding',
  'x-amz-storage-class',
]);
/** The storage classes a GCS bucket has (x-amz-storage-class is taken as x-goog-storage-class). */
const STORAGE_CLASSES = new Set(['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE']);
const LIST_QUERY = new Set(['list-type', 'prefix', 'continuation-token', 'max-keys', 'delimiter', 'start-after', 'encoding-type', 'x-id']);

function xml(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const text = `<?xml version='1.0' encoding='UTF-8'?>${body}`;
  res.writeHead(status, { 'content-type': 'application/xml; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  xml(res, status, `<Error><Code>${code}</Code><Message>${esc(message)}</Message></Error>`);
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Verify an AWS Signature V4 request (AWS4-HMAC-SHA256, the header form) against the HMAC keys.
 * Returns an error [status, code, message] or undefined when the signature holds.
 */
export function verifySigV4(req: IncomingMessage, rawPath: string, rawQuery: string, body: Buffer, keys: Map<string, string>, now = Date.now()): [number, string, string] | undefined {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [403, 'AccessDenied', 'Anonymous caller does not have storage.objects access, or the Authorization header is not AWS4-HMAC-SHA256.'];
  const [, accessId, day, region, service, signedList, signature] = m as unknown as string[];
  const secret = keys.get(accessId!);
  if (secret === undefined) return [403, 'InvalidAccessKeyId', 'The Cloud Storage HMAC key you provided does not exist.'];
  if (service !== 's3') return [400, 'InvalidArgument', `service ${service} in the credential scope (the AWS form signs for s3)`];
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day) return [400, 'InvalidArgument', 'x-amz-date is missing or does not match the credential scope date'];
  const t = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - t) > 15 * 60_000) return [403, 'RequestTimeTooSkewed', 'The difference between the request time and the server time is too large.'];
  const signed = signedList!.split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256']) if (!signed.includes(h)) return [403, 'SignatureDoesNotMatch', `${h} is not among the signed headers`];
  const payload = String(req.headers['x-amz-content-sha256'] ?? '');
  if (payload !== sha256hex(body)) return [400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.'];
  const query = rawQuery
    ? rawQuery.split('&').map((p) => {
      const i = p.indexOf('=');
      const k = decodeURIComponent(i < 0 ? p : p.slice(0, i));
      const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, '%20'));
      return [uriEncode(k), uriEncode(v)] as const;
    }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&')
    : '';
  const headers = signed.map((h) => {
    const v = req.headers[h];
    if (v === undefined) return undefined;
    return `${h}:${(Array.isArray(v) ? v.join(',') : v).trim().replace(/\s+/g, ' ')}\n`;
  });
  if (headers.includes(undefined)) return [403, 'SignatureDoesNotMatch', 'a signed header is missing from the request'];
  const canonical = [req.method, rawPath, query, headers.join(''), signedList, payload].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region!), service!), 'aws4_request');
  const want = hmac(key, toSign);
  if (!timingSafeEqual(want, Buffer.from(signature!, 'hex'))) return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.'];
  return undefined;
}

/** Handle a path-style XML API request; returns false when the path is not one (so the JSON API handles it). */
export function handleXml(be: XmlBackend, req: IncomingMessage, res: ServerResponse, body: Buffer): boolean {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const rawQuery = q < 0 ? '' : raw.slice(q + 1);
  const m = /^\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(rawPath);
  if (!m || rawPath.startsWith('/storage/') || rawPath.startsWith('/upload/')) return false;
  const bucketName = m[1]!;
  const key = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  const params = new URLSearchParams(rawQuery);
  const refuse = (why: string) => {
    be.reject(why);
    error(res, 400, 'InvalidArgument', `fake GCS XML API does not implement: ${why}`);
  };
  for (const h of Object.keys(req.headers)) {
    if (h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm' || h === 'x-amz-trailer' || h === 'x-amz-decoded-content-length') {
      be.reject(`header ${h} (the AWS SDK's default flexible checksum; set requestChecksumCalculation: WHEN_REQUIRED)`);
      error(res, 400, 'InvalidArgument', `Invalid argument: header ${h} is not supported.`);
      return true;
    }
  }
  if (/aws-chunked/.test(String(req.headers['content-encoding'] ?? ''))) {
    refuse('content-encoding aws-chunked');
    return true;
  }
  const err = verifySigV4(req, rawPath, rawQuery, body, be.hmacKeys);
  if (err) {
    if (err[1] === 'InvalidArgument') be.reject(err[2]);
    error(res, ...err);
    return true;
  }
  const objects = be.bucket(bucketName);
  if (!objects) {
    error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
    return true;
  }

  if (req.method === 'PUT' && key) {
    for (const k of params.keys()) if (k !== 'x-id') return refuse(`PUT Object query parameter ${k}`), true;
    if (params.get('x-id') !== null && params.get('x-id') !== 'PutObject') return refuse(`x-id ${params.get('x-id')}`), true;
    for (const h of Object.keys(req.headers)) if (!PUT_HEADERS.has(h)) return refuse(`PUT Object header ${h}`), true;
    if (req.headers['content-length'] !== String(body.length)) return refuse('a PUT without its exact Content-Length'), true;
    const sc = req.headers['x-amz-storage-class'];
    if (sc !== undefined && !STORAGE_CLASSES.has(String(sc))) {
      error(res, 400, 'InvalidStorageClass', `The storage class you specified is not valid: ${String(sc)}`);
      return true;
    }
    const md5 = req.headers['content-md5'];
    if (md5 !== undefined && md5 !== createHash('md5').update(body).digest('base64')) {
      error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what was received.');
      return true;
    }
    be.put(bucketName, { name: key, data: body, contentType: String(req.headers['content-type'] ?? 'application/octet-stream'), ...(sc !== undefined ? { storageClass: String(sc) } : {}) });
    res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"`, 'content-length': '0', 'x-goog-stored-content-encoding': 'identity' });
    res.end();
    return true;
  }

  if (req.method === 'GET' && !key && params.get('list-type') === '2') {
    for (const k of params.keys()) if (!LIST_QUERY.has(k)) return refuse(`ListObjectsV2 query parameter ${k}`), true;
    for (const k of ['delimiter', 'start-after', 'encoding-type']) if (params.has(k)) return refuse(`ListObjectsV2 ${k}`), true;
    const prefix = params.get('prefix') ?? '';
    const max = Math.min(Number(params.get('max-keys') ?? 1000), 1000);
    const token = params.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64url').toString() : '';
    const names = [...objects.keys()].filter((n) => n.startsWith(prefix) && n > after).sort();
    const page = names.slice(0, max);
    const truncated = names.length > page.length;
    const contents = page.map((n) => {
      const o = objects.get(n)!;
      return `<Contents><Key>${esc(n)}</Key><LastModified>${o.updated}</LastModified><ETag>"${createHash('md5').update(o.data).digest('hex')}"</ETag><Size>${o.data.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    }).join('');
    xml(res, 200, `<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01"><Name>${esc(bucketName)}</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1]!).toString('base64url')}</NextContinuationToken>` : ''}</ListBucketResult>`);
    return true;
  }

  refuse(`${req.method} ${rawPath}${rawQuery ? `?${rawQuery}` : ''}`);
  return true;
}
