import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/units.js';
import { renderJsonl } from '../../rrpair/render-file.js';
import { dateFormat, shiftDate } from '../../rrpair/token-values.js';
import { UsageError, type CliCommand } from '../command.js';

function signedDuration(s: string): number {
  const neg = s.startsWith('-');
  const ms = parseDuration(neg || s.startsWith('+') ? s.slice(1) : s);
  return neg ? -ms : ms;
}

/**
 * The rendered raw.jsonl with each RRPair's own time (`ts`) moved by the offset its dates and JWTs
 * moved by, so the traffic is dated where --offset, --to-now or --to put it. `renderJsonl` moves
 * only the values inside the RRPair (token entries) and keeps `ts`; with --to-now / --to the offset
 * is the one it chose: to the first RRPair whose ts is a date, the first line here with that ts.
 */
export function shiftTs(fixedOffsetMs: number, toMs: number | undefined): Transform {
  let offset = toMs === undefined ? fixedOffsetMs : undefined;
  let rest = '';
  const line = (l: string): string => {
    if (!l.trim()) return l;
    const rr = JSON.parse(l) as { ts?: unknown };
    if (typeof rr.ts !== 'string' || Number.isNaN(Date.parse(rr.ts))) return l;
    offset ??= toMs! - Date.parse(rr.ts);
    if (offset === 0) return l;
    const f = dateFormat(rr.ts);
    rr.ts = f ? shiftDate(rr.ts, f, offset) : new Date(Date.parse(rr.ts) + offset).toISOString();
    return JSON.stringify(rr);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      cb(null, lines.length ? lines.map(line).join('\n') + '\n' : '');
    },
    flush(cb) {
      cb(null, rest ? line(rest) : '');
    },
  });
}

export const render: CliCommand = {
  name: 'render',
  summary: 'turn tokenized RRPairs into replayable ones: fill placeholders, shift dates, re-sign JWTs',
  usage: [
    'rrpipe render [FILE | -i FILE] [-o FILE] [--offset DURATION | --to-now | --to TIME] [--jwt-key KEY] [--fresh-uuids] [--field NAME]',
    '',
    '  FILE, -i, --input FILE  raw.jsonl to read (default: stdin)',
    '  -o, --output FILE    raw.jsonl to write (default: stdout)',
    '      --offset D       move each RRPair\'s ts, its tokenized dates and JWT time claims by D',
    '                       (e.g. 36h, -15m); default 0',
    '      --to-now         choose the offset that moves the first RRPair\'s ts to now (all move by it)',
    '      --to TIME        choose the offset that moves the first RRPair\'s ts to TIME (RFC 3339)',
    '      --jwt-key KEY    re-sign JWTs with HS256 and KEY (or set RRPIPE_JWT_KEY); without it, re-dated',
    '                       JWTs are left unsigned (alg "none") with a warning',
    '      --fresh-uuids    replace UUIDs by fresh ones (consistently within an RRPair)',
    '      --field NAME     field holding the token entries (default: tokens)',
    '',
    'Exit code 0; 1 when some lines were not RRPairs (they are reported and skipped).',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        input: { type: 'string', short: 'i' }, output: { type: 'string', short: 'o' }, offset: { type: 'string' },
        'to-now': { type: 'boolean' }, to: { type: 'string' }, 'jwt-key': { type: 'string' }, 'fresh-uuids': { type: 'boolean' }, field: { type: 'string' },
      },
    });
    if (positionals.length > 1) throw new UsageError(`one input file at most (got ${positionals.join(', ')})`);
    if (positionals.length && values.input !== undefined) throw new UsageError(`give the input file once: ${positionals[0]} or -i ${values.input}`);
    const inputFile = positionals[0] ?? values.input;
    const modes = [values.offset !== undefined, !!values['to-now'], values.to !== undefined].filter(Boolean).length;
    if (modes > 1) throw new UsageError('give only one of --offset, --to-now, --to');
    let offsetMs = 0;
    try {
      if (values.offset !== undefined) offsetMs = signedDuration(values.offset);
    } catch (err) {
      throw new UsageError(`--offset: ${(err as Error).message}`);
    }
    let toNowMs: number | undefined;
    if (values['to-now']) toNowMs = Date.now();
    if (values.to !== undefined) {
      toNowMs = Date.parse(values.to);
      if (Number.isNaN(toNowMs)) throw new UsageError(`--to: not a date: ${values.to}`);
    }
    const input = inputFile && inputFile !== '-' ? createReadStream(inputFile) : process.stdin;
    const output = values.output && values.output !== '-' ? createWriteStream(values.output) : process.stdout;
    const shifted = shiftTs(offsetMs, toNowMs);
    const written = pipeline(shifted, output, { end: output !== process.stdout });
    const jwtKey = values['jwt-key'] ?? process.env.RRPIPE_JWT_KEY;
    let res: Awaited<ReturnType<typeof renderJsonl>>;
    try {
      // An output that fails (a full disk) ends the render instead of leaving it waiting for 'drain'.
      const outputFailed = written.then(() => new Promise<never>(() => {}));
      res = await Promise.race([renderJsonl(input, shifted, {
        offsetMs, ...(toNowMs !== undefined ? { toNowMs } : {}), ...(jwtKey ? { jwtKey } : {}),
        freshUuids: !!values['fresh-uuids'], ...(values.field ? { field: values.field } : {}),
      }, (w) => console.error(`warning: ${w}`)), outputFailed]);
      shifted.end();
      await written;
    } catch (err) {
      shifted.destroy();
      written.catch(() => undefined);
      console.error(`rrpipe render: ${(err as Error).message}`);
      return 1;
    }
    for (const m of res.malformed) console.error(`line ${m.line}: not an RRPair: ${m.error}`);
    console.error(`rendered ${res.rendered} RRPair${res.rendered === 1 ? '' : 's'} (offset ${res.offsetMs} ms)${res.malformed.length ? `, skipped ${res.malformed.length} malformed line(s)` : ''}`);
    return res.malformed.length ? 1 : 0;
  },
};
