import { builtinRegistry } from '../../components.js';
import type { CliCommand } from '../command.js';

export const components: CliCommand = {
  name: 'components',
  summary: 'list every registered component: type, kind, stability, what it does',
  usage: 'rrpipe components [--json]',
  async run(args) {
    const list = (await builtinRegistry()).list();
    if (args.includes('--json')) {
      console.log(JSON.stringify(list.map((f) => ({ type: f.type, kind: f.kind, stability: f.stability, aliases: f.aliases ?? [], description: f.description })), null, 2));
      return 0;
    }
    const rows = list.map((f) => [f.kind, f.type + (f.aliases?.length ? ` (${f.aliases.join(', ')})` : ''), f.stability, f.description]);
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['KIND', 'TYPE', 'STABILITY'][i]!.length));
    const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c)).join('  ');
    console.log(line(['KIND', 'TYPE', 'STABILITY', 'DESCRIPTION']));
    for (const r of rows) console.log(line(r));
    return 0;
  },
};
