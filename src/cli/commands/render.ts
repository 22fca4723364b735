import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/units.js';
import { renderJsonl } from '../../rrpair/render-file.js';
import { UsageError, type CliCommand } from '../command.js';

function signedDuration(s: string): number {
  const neg = s.startsWith('-');
  const ms = parseDuration(neg || s.startsWith('+') ? s.slice(1) : s);
  return neg ? -ms : ms;
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
    const toFile = output !== process.stdout;
    const written = toFile ? finished(output) : undefined;
    const jwtKey = values['jwt-key'] ?? process.env.RRPIPE_JWT_KEY;
    let res: Awaited<ReturnType<typeof renderJsonl>>;
    try {
      const rendering = renderJsonl(input, output, {
        offsetMs, ...(toNowMs !== undefined ? { toNowMs } : {}), ...(jwtKey ? { jwtKey } : {}),
        freshUuids: !!values['fresh-uuids'], ...(values.field ? { field: values.field } : {}),
      }, (w) => console.error(`warning: ${w}`));
      rendering.catch(() => undefined); // settled below; an input failing after the output did is not unhandled
      // An output that fails (a full disk) ends the render instead of leaving it waiting for 'drain'.
      res = await (written ? Promise.race([rendering, written.then(() => new Promise<never>(() => {}))]) : rendering);
      if (toFile) {
        output.end();
        await written;
      }
    } catch (err) {
      written?.catch(() => undefined);
      console.error(`rrpipe render: ${(err as Error).message}`);
      return 1;
    }
    for (const m of res.malformed) console.error(`line ${m.line}: not an RRPair: ${m.error}`);
    console.error(`rendered ${res.rendered} RRPair${res.rendered === 1 ? '' : 's'} (offset ${res.offsetMs} ms)${res.malformed.length ? `, skipped ${res.malformed.length} malformed line(s)` : ''}`);
    return res.malformed.length ? 1 : 0;
  },
};
