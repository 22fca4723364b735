import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { RRPair } from '../rrpair/types.js';

/**
 * Fetch one archived RRPair from its archive_uri. `file://<path>#<line>` is read here (line numbers
 * count from 1; a .gz file is decompressed; without #line the file must hold exactly one RRPair).
 * Other schemes (s3, gs, azblob) are fetched by the long-term storage readers (`rrpipe get`).
 */
export async function fetchArchived(uri: string): Promise<RRPair> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme !== 'file') {
    throw new Error(`fetching archived RRPairs from ${scheme ? `${scheme}://` : `"${uri}"`} locations is not supported yet by rrpipe query (only file://)`);
  }
  const hash = uri.indexOf('#');
  const fileUrl = hash < 0 ? uri : uri.slice(0, hash);
  const frag = hash < 0 ? undefined : uri.slice(hash + 1);
  const path = fileURLToPath(fileUrl);
  let buf = await readFile(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
  let line: string | undefined;
  if (frag === undefined || frag === '') {
    if (lines.length !== 1) throw new Error(`${uri}: no #line given and the file holds ${lines.length} lines`);
    line = lines[0]!;
  } else {
    const m = /^(?:L|line=)?(\d+)$/.exec(frag);
    if (!m) throw new Error(`${uri}: invalid line fragment "#${frag}"`);
    const n = Number(m[1]);
    line = lines[n - 1];
    if (n < 1 || line === undefined) throw new Error(`${uri}: line ${n} is past the end (${lines.length} lines)`);
  }
  try {
    return JSON.parse(line) as RRPair;
  } catch (err) {
    throw new Error(`${uri}: not a JSON RRPair: ${(err as Error).message}`);
  }
}
