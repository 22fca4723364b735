import protobuf from 'protobufjs/minimal.js';
import type { PromSeries } from '../internal/prometheus/translate.js';

/**
 * prometheus.WriteRequest (remote write 1.0, prompb/remote.proto and types.proto):
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // ms since the epoch
 * Encoded with protobufjs's Writer: four small messages do not warrant generated code.
 */
export function encodeWriteRequest(series: { labels: [string, string][]; samples: { value: number; tsMs: number }[] }[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const ts of series) {
    w.uint32((1 << 3) | 2).fork();
    for (const [name, value] of ts.labels) {
      w.uint32((1 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).string(name);
      w.uint32((2 << 3) | 2).string(value);
      w.ldelim();
    }
    for (const s of ts.samples) {
      w.uint32((2 << 3) | 2).fork();
      w.uint32((1 << 3) | 1).double(s.value);
      w.uint32((2 << 3) | 0).int64(s.tsMs);
      w.ldelim();
    }
    w.ldelim();
  }
  return w.finish();
}

/** Series keyed by their label set, samples in time order, one sample per timestamp (the last wins). */
export function groupSeries(all: PromSeries[]): { labels: [string, string][]; samples: { value: number; tsMs: number }[] }[] {
  const by = new Map<string, { labels: [string, string][]; samples: Map<number, number> }>();
  for (const s of all) {
    const k = s.labels.map(([a, b]) => `${a}\u0001${b}`).join('\u0002');
    let e = by.get(k);
    if (!e) by.set(k, (e = { labels: s.labels, samples: new Map() }));
    e.samples.set(s.tsMs, s.value);
  }
  return [...by.values()].map((e) => ({ labels: e.labels, samples: [...e.samples].sort((a, b) => a[0] - b[0]).map(([tsMs, value]) => ({ tsMs, value })) }));
}
