import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RRPair } from '../../src/rrpair/types.js';

/** The real RRPairs kept in the repository (see test/testdata/samples/README.md). */
export const SAMPLES_DIR = resolve(import.meta.dirname, '../testdata/samples');

/** Paths of the sample files, in name order. */
export function sampleFiles(): string[] {
  return readdirSync(SAMPLES_DIR).filter((f) => f.endsWith('.raw.jsonl')).sort().map((f) => join(SAMPLES_DIR, f));
}

export function readJsonl(path: string): RRPair[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as RRPair);
}

/** The RRPairs of one sample file, by name (e.g. 'openai-fine-tuning.raw.jsonl'). */
export function loadSample(name: string): RRPair[] {
  return readJsonl(join(SAMPLES_DIR, name));
}

/** Every sample RRPair, files in name order, lines in file order. */
export function allSamples(): RRPair[] {
  return sampleFiles().flatMap(readJsonl);
}

/** n RRPairs shaped like the samples, with distinct uuids and ts spread from `start` by `stepMs`. */
export function generate(n: number, opts: { start?: number; stepMs?: number; bodyBytes?: number; service?: string } = {}): RRPair[] {
  const base = readJsonl(sampleFiles()[0]!)[0]!;
  const start = opts.start ?? Date.parse('2025-03-18T00:00:00Z');
  const body = Buffer.from(JSON.stringify({ data: 'x'.repeat(Math.max(0, (opts.bodyBytes ?? 600) - 12)) })).toString('base64');
  const out: RRPair[] = [];
  for (let i = 0; i < n; i++) {
    const rr = structuredClone(base);
    rr.uuid = Buffer.from(i.toString(16).padStart(32, '0'), 'hex').toString('base64');
    rr.ts = new Date(start + i * (opts.stepMs ?? 1000)).toISOString();
    if (opts.service) rr.service = opts.service;
    rr.http!.res!.bodyBase64 = body;
    rr.tags = { ...rr.tags, seq: String(i) };
    out.push(rr);
  }
  return out;
}
