import { parseArgs } from 'node:util';
import { getRecordAt } from '../../layouts/get.js';
import type { CliCommand } from '../command.js';

export const get: CliCommand = {
  name: 'get',
  summary: 'print the RRPair at a long-term location (s3://…#line, gs://…, azblob://…, abfss://…, file://…)',
  usage: `rrpipe get <location> [--endpoint URL] [--force-path-style]

  location            s3://bucket/key#line, gs://bucket/key#line, azblob://account/container/blob#line,
                      abfss://filesystem@account.dfs.core.windows.net/path#line, file:///path#line
  --endpoint URL      custom endpoint (S3 API, GCS emulator or Azure blob service URL)
  --force-path-style  S3 path-style addressing

Credentials come from the environment: the AWS chain, Google application default credentials,
AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY.`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { endpoint: { type: 'string' }, 'force-path-style': { type: 'boolean' } } });
    if (positionals.length !== 1) {
      console.error('usage: rrpipe get <location>');
      return 2;
    }
    const e = values.endpoint;
    try {
      const rr = await getRecordAt(positionals[0]!, { s3: { endpoint: e, s3_force_path_style: values['force-path-style'] ?? !!e }, gcs: { endpoint: e }, azure: { endpoint: e } });
      process.stdout.write(JSON.stringify(rr, null, 2) + '\n');
      return 0;
    } catch (err) {
      console.error(`rrpipe get: ${(err as Error).message}`);
      return 1;
    }
  },
};
