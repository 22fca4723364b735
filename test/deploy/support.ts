import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(__dirname, '../..');
export const PKG = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

/** A rendered Kubernetes object, loosely typed: the tests read what they check. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

/** `kubectl kustomize DIR`, parsed. */
export function kustomize(dir: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter(Boolean);
}

/** A process run to its end, with its output and an environment of exactly `env` (plus PATH). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Values for every ${env:NAME} without a default in the shipped configs, shaped as the components expect. */
export const CONFIG_ENV: Record<string, string> = {
  RRPIPE_ARCHIVE_BUCKET: 'rrpipe-test-archive',
  RRPIPE_REDACTION_SECRET: 'test-redaction-secret',
  OPENSEARCH_ENDPOINT: 'https://search-rrpipe-test.us-east-1.es.amazonaws.com',
  GOOGLE_CLOUD_PROJECT: 'rrpipe-test',
  ADX_CLUSTER_URI: 'https://rrpipetest.westeurope.kusto.windows.net',
  AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=rrpipetest;AccountKey=dGVzdA==;EndpointSuffix=core.windows.net',
  OTLP_TOKEN: 'test-otlp-token',
  ES_PASSWORD: 'test-es-password',
  ES_ENDPOINT: 'https://elasticsearch.example:9200',
  S3_BUCKET: 'rrpipe-test-byoc',
  GCS_BUCKET: 'rrpipe-test-byoc',
  AZURE_BLOB_URL: 'https://rrpipetest.blob.core.windows.net',
  AZURE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=rrpipetest;AccountKey=dGVzdA==;EndpointSuffix=core.windows.net',
  COSMOS_ENDPOINT: 'https://rrpipetest.documents.azure.com:443/',
  OTLP_LOGS_ENDPOINT: 'https://otlp.example.com/v1/logs',
  AZURE_SEARCH_ENDPOINT: 'https://rrpipetest.search.windows.net',
  AZURE_SEARCH_API_KEY: 'test-search-admin-key',
};

/** The variables a config reads without a default: `${env:NAME}` (not `${env:NAME:-…}`). */
export function requiredEnv(configText: string): string[] {
  const text = configText.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  return [...new Set([...text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
}
