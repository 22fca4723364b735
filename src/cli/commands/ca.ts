import { readFileSync } from 'node:fs';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';

/** `rrpipe ca`: create (once) and print the CA that nettap's proxy signs intercepted TLS with. */
export const ca: CliCommand = {
  name: 'ca',
  summary: 'Create or print the CA certificate the nettap proxy uses for TLS interception.',
  usage: `Usage: rrpipe ca [--dir DIR] [--path]

Creates the CA in DIR (default $RRPIPE_CA_DIR or ~/.rrpipe/ca) if it is not there, then prints
its certificate (PEM) to stdout, for the application's trust store. The private key stays in DIR
(mode 0600). Point nettap's proxy.ca_dir at the same DIR.

  --dir DIR   where the CA lives
  --path      print the certificate's file path instead of its PEM`,
  async run(args) {
    // node-forge (the CA's key and certificate) loads only for this command, not at every start-up
    const { defaultCaDir, ensureCa } = await import('../../receivers/nettap/proxy/ca.js');
    let dir = defaultCaDir();
    let printPath = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--dir') {
        const v = args[++i];
        if (!v) throw new UsageError('--dir needs a directory');
        dir = v;
      } else if (a.startsWith('--dir=')) dir = a.slice(6);
      else if (a === '--path') printPath = true;
      else throw new UsageError(`unknown argument ${a}`);
    }
    const p = ensureCa(dir);
    if (p.created) process.stderr.write(`created CA in ${dir}\n`);
    process.stdout.write(printPath ? `${p.certFile}\n` : readFileSync(p.certFile, 'utf8'));
    return 0;
  },
};
