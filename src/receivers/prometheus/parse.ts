// parse-prometheus-text-format: a maintained parser of the text exposition format (HELP, TYPE,
// escapes, histograms and summaries grouped per family); rrpipe maps its families to OTLP points.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { MetricPoint, Scope } from '../../core/metric.js';
import type { Attrs } from '../../core/record.js';

interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string; quantiles?: Record<string, string> }[];
}

function num(s: string | undefined): number {
  if (s === undefined) return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/**
 * The points of one scrape. Counters → cumulative monotonic sums; gauges and untyped → gauges;
 * histograms → cumulative explicit-bucket histograms (Prometheus buckets are cumulative, OTLP's
 * are not: counts are differenced); summaries → their _sum and _count as sums (OTLP summaries
 * are not modelled). Throws on text that is not the exposition format.
 */
export function parseExposition(text: string, o: { resource: Attrs; scope: Scope; extra: Attrs; startNs: bigint; timeNs: bigint }): MetricPoint[] {
  const families = parsePrometheusTextFormat(text) as Family[];
  const out: MetricPoint[] = [];
  const base = (f: Family, labels: Record<string, string> | undefined) => ({
    name: f.name, description: f.help, unit: '', resource: o.resource, scope: o.scope, attributes: { ...o.extra, ...(labels ?? {}) }, startNs: o.startNs, timeNs: o.timeNs,
  });
  for (const f of families) {
    for (const m of f.metrics) {
      if (f.type === 'COUNTER') out.push({ ...base(f, m.labels), type: 'sum', temporality: 'cumulative', monotonic: true, value: num(m.value) });
      else if (f.type === 'GAUGE' || f.type === 'UNTYPED') out.push({ ...base(f, m.labels), type: 'gauge', value: num(m.value) });
      else if (f.type === 'HISTOGRAM') {
        const les = Object.entries(m.buckets ?? {}).map(([le, c]) => [num(le), num(c)] as const).sort((a, b) => a[0] - b[0]);
        const bounds = les.filter(([le]) => le !== Infinity).map(([le]) => le);
        const counts: number[] = [];
        let prev = 0;
        for (const [, c] of les.filter(([le]) => le !== Infinity)) {
          counts.push(c - prev);
          prev = c;
        }
        const count = num(m.count);
        counts.push(count - prev);
        out.push({ ...base(f, m.labels), type: 'histogram', temporality: 'cumulative', count, sum: num(m.sum), bounds, counts });
      } else if (f.type === 'SUMMARY') {
        out.push({ ...base(f, m.labels), name: `${f.name}_sum`, type: 'sum', temporality: 'cumulative', monotonic: false, value: num(m.sum) });
        out.push({ ...base(f, m.labels), name: `${f.name}_count`, type: 'sum', temporality: 'cumulative', monotonic: true, value: num(m.count) });
      }
    }
  }
  return out;
}
