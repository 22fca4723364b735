import { parseArgs } from 'node:util';
import type { CliCommand } from '../command.js';

/** A bucket lifecycle policy, as JSON the provider's CLI accepts, for a retention in days. */
export function lifecyclePolicy(provider: string, days: number, opts: { prefix?: string; container?: string; coldAfter?: number; coldClass?: string } = {}): object {
  const prefix = opts.prefix ?? '';
  switch (provider) {
    case 'aws':
      // aws s3api put-bucket-lifecycle-configuration --bucket B --lifecycle-configuration file://policy.json
      return {
        Rules: [
          {
            ID: `rrpipe-retention-${days}d`,
            Status: 'Enabled',
            Filter: { Prefix: prefix },
            ...(opts.coldAfter ? { Transitions: [{ Days: opts.coldAfter, StorageClass: opts.coldClass ?? 'GLACIER_IR' }] } : {}),
            Expiration: { Days: days },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      };
    case 'gcp':
      // gcloud storage buckets update gs://B --lifecycle-file=policy.json
      return {
        rule: [
          ...(opts.coldAfter ? [{ action: { type: 'SetStorageClass', storageClass: opts.coldClass ?? 'COLDLINE' }, condition: { age: opts.coldAfter, ...(prefix ? { matchesPrefix: [prefix] } : {}) } }] : []),
          { action: { type: 'Delete' }, condition: { age: days, ...(prefix ? { matchesPrefix: [prefix] } : {}) } },
        ],
      };
    case 'azure':
      // az storage account management-policy create --account-name A --resource-group G --policy @policy.json
      return {
        rules: [
          {
            enabled: true,
            name: `rrpipe-retention-${days}d`,
            type: 'Lifecycle',
            definition: {
              actions: {
                baseBlob: {
                  ...(opts.coldAfter ? { [opts.coldClass === 'Archive' ? 'tierToArchive' : opts.coldClass === 'Cold' ? 'tierToCold' : 'tierToCool']: { daysAfterModificationGreaterThan: opts.coldAfter } } : {}),
                  delete: { daysAfterModificationGreaterThan: days },
                },
              },
              filters: { blobTypes: ['blockBlob'], prefixMatch: [[opts.container ?? 'logs', prefix].filter(Boolean).join('/')] },
            },
          },
        ],
      };
    default:
      throw new Error(`--provider must be aws, gcp or azure (got "${provider}")`);
  }
}

export const lifecycle: CliCommand = {
  name: 'lifecycle',
  summary: 'print a bucket lifecycle policy (retention, optional cold tier) for aws, gcp or azure',
  usage: `rrpipe lifecycle --provider aws|gcp|azure --days N [--prefix P] [--container C] [--cold-after N --cold-class CLASS]

Prints JSON for: aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration file://p.json
                 gcloud storage buckets update gs://B --lifecycle-file=p.json
                 az storage account management-policy create --policy @p.json`,
  async run(args) {
    const { values } = parseArgs({ args, options: { provider: { type: 'string' }, days: { type: 'string' }, prefix: { type: 'string' }, container: { type: 'string' }, 'cold-after': { type: 'string' }, 'cold-class': { type: 'string' } } });
    const days = Number(values.days);
    if (!values.provider || !Number.isInteger(days) || days < 1) {
      console.error('usage: rrpipe lifecycle --provider aws|gcp|azure --days N');
      return 2;
    }
    const coldAfter = values['cold-after'] !== undefined ? Number(values['cold-after']) : undefined;
    if (coldAfter !== undefined && (!Number.isInteger(coldAfter) || coldAfter < 1 || coldAfter >= days)) {
      console.error('rrpipe lifecycle: --cold-after must be a whole number of days below --days');
      return 2;
    }
    try {
      process.stdout.write(JSON.stringify(lifecyclePolicy(values.provider, days, { prefix: values.prefix, container: values.container, coldAfter, coldClass: values['cold-class'] }), null, 2) + '\n');
      return 0;
    } catch (err) {
      console.error(`rrpipe lifecycle: ${(err as Error).message}`);
      return 2;
    }
  },
};
