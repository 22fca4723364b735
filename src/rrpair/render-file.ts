import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { MalformedRecordError, parseRRPairLine } from './json.js';
import { render, type RenderOptions } from './tokens.js';
import { dateFormat, shiftDate } from './token-values.js';
import type { RRPair } from './types.js';

export interface RenderFileOptions extends RenderOptions {
  /** Shift so that the first RRPair's ts becomes this instant (ms since the epoch); overrides offsetMs. */
  toNowMs?: number;
}

export interface RenderFileResult {
  rendered: number;
  malformed: { line: number; error: string }[];
  warnings: number;
  offsetMs: number;
}

/**
 * Render every RRPair of a raw.jsonl stream (see `render`) into another raw.jsonl stream, each
 * RRPair's own `ts` moved by the offset its dates and JWTs move by (so `toNowMs` puts the first
 * RRPair at that instant). A malformed line is reported with its number and skipped; the others
 * are still rendered.
 */
export async function renderJsonl(input: Readable, output: Writable, opts: RenderFileOptions = {}, onWarning?: (w: string) => void): Promise<RenderFileResult> {
  const res: RenderFileResult = { rendered: 0, malformed: [], warnings: 0, offsetMs: opts.offsetMs ?? 0 };
  let offsetKnown = opts.toNowMs === undefined;
  let n = 0;
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let rr;
    try {
      rr = parseRRPairLine(line);
    } catch (err) {
      res.malformed.push({ line: n, error: err instanceof MalformedRecordError ? err.message : String(err) });
      continue;
    }
    if (!offsetKnown && typeof rr.ts === 'string' && !Number.isNaN(Date.parse(rr.ts))) {
      res.offsetMs = opts.toNowMs! - Date.parse(rr.ts);
      offsetKnown = true;
    }
    const out = render(rr, { ...opts, offsetMs: res.offsetMs });
    if (res.offsetMs !== 0) moveTs(out.rrpair, res.offsetMs);
    for (const w of out.warnings) {
      res.warnings++;
      onWarning?.(`line ${n}: ${w}`);
    }
    if (!output.write(JSON.stringify(out.rrpair) + '\n')) await new Promise((r) => output.once('drain', r));
    res.rendered++;
  }
  return res;
}

/** ts moved by offsetMs in its own format (a Speedscale ts keeps its microsecond digits). */
function moveTs(rr: RRPair, offsetMs: number): void {
  if (typeof rr.ts !== 'string' || Number.isNaN(Date.parse(rr.ts))) return;
  const f = dateFormat(rr.ts);
  rr.ts = f ? shiftDate(rr.ts, f, offsetMs) : new Date(Date.parse(rr.ts) + offsetMs).toISOString();
}
