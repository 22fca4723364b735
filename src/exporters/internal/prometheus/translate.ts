import type { MetricPoint } from '../../../core/metric.js';
import type { Attrs } from '../../../core/record.js';
import { bool, obj } from '../../../config/fragments.js';

/**
 * OTel → Prometheus translation as the Collector's prometheus and prometheusremotewrite exporters
 * do it (pkg/translator/prometheus): metric names sanitised, unit and `_total` suffixes added
 * (add_metric_suffixes), attributes as labels with invalid characters replaced, job and instance
 * from service.namespace/service.name and service.instance.id, every resource attribute as a
 * label with resource_to_telemetry_conversion. Histograms become _bucket{le}, _sum and _count.
 */
export interface PromOptions {
  namespace: string;
  addSuffixes: boolean;
  resourceToLabels: boolean;
  constLabels: Record<string, string>;
}

export function resourceToTelemetry() {
  return obj({ enabled: bool(false, 'Add every resource attribute to each series as a label.') }, { default: {}, description: 'OTel resource_to_telemetry_conversion.' });
}

export type PromType = 'counter' | 'gauge' | 'histogram';

export interface PromSeries {
  /** Sorted [name, value] pairs, __name__ first. */
  labels: [string, string][];
  value: number;
  tsMs: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help: string;
  series: PromSeries[];
}

/** OTel unit → the word Prometheus names carry (the translator's unit map, the common part). */
const UNIT_WORDS: Record<string, string> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};

function unitSuffix(unit: string, type: PromType): string {
  if (!unit || unit.startsWith('{')) return '';
  if (unit === '1') return type === 'gauge' ? 'ratio' : '';
  const [main, per] = unit.split('/', 2) as [string, string | undefined];
  const words: string[] = [];
  const m = UNIT_WORDS[main] ?? (main.startsWith('{') ? '' : main);
  if (m) words.push(m);
  if (per) {
    const p = ({ s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' } as Record<string, string>)[per] ?? per;
    words.push('per', p);
  }
  return words.join('_').replace(/[^a-zA-Z0-9_]/g, '_');
}

export function sanitizeName(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

export function sanitizeLabel(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = `key_${out}`;
  if (out.startsWith('__') && !s.startsWith('__')) out = `key${out}`;
  return out;
}

export function promName(p: MetricPoint, type: PromType, o: Pick<PromOptions, 'namespace' | 'addSuffixes'>): string {
  let name = sanitizeName(p.name);
  if (o.addSuffixes) {
    const u = unitSuffix(p.unit, type);
    if (u && !name.split('_').includes(u)) name = `${name}_${u}`;
    if (type === 'counter' && !name.endsWith('_total')) name = `${name}_total`;
  }
  if (o.namespace) name = `${sanitizeName(o.namespace)}_${name}`;
  return name.replace(/_+/g, '_');
}

function labelsOf(p: MetricPoint, o: PromOptions): Map<string, string> {
  const l = new Map<string, string>();
  const put = (k: string, v: unknown) => {
    const key = sanitizeLabel(k);
    const prev = l.get(key);
    // Two attributes sanitising to one label are joined with ';', as the translator does.
    l.set(key, prev !== undefined && prev !== String(v) ? `${prev};${String(v)}` : String(v));
  };
  if (o.resourceToLabels) for (const [k, v] of Object.entries(p.resource)) put(k, v);
  for (const [k, v] of Object.entries(p.attributes)) put(k, v);
  const r: Attrs = p.resource;
  const svc = r['service.name'];
  if (svc !== undefined) l.set('job', r['service.namespace'] !== undefined ? `${r['service.namespace']}/${svc}` : String(svc));
  if (r['service.instance.id'] !== undefined) l.set('instance', String(r['service.instance.id']));
  for (const [k, v] of Object.entries(o.constLabels)) l.set(sanitizeLabel(k), v);
  for (const [k, v] of l) if (v === '') l.delete(k);
  return l;
}

function sorted(name: string, l: Map<string, string>, extra?: [string, string]): [string, string][] {
  const out = [...l];
  if (extra) out.push(extra);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return [['__name__', name], ...out];
}

export function promType(p: MetricPoint): PromType {
  if (p.type === 'histogram') return 'histogram';
  if (p.type === 'sum' && p.monotonic) return 'counter';
  return 'gauge';
}

/** Formats a bucket bound as Prometheus does (le="0.5", le="+Inf"). */
export function fmtFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

/**
 * The Prometheus series of one cumulative point (or gauge). Delta points have no Prometheus form:
 * the caller drops them (as the Collector does) unless it accumulates them first.
 */
export function toFamily(p: MetricPoint, o: PromOptions): PromFamily {
  const type = promType(p);
  const name = promName(p, type, o);
  const labels = labelsOf(p, o);
  const tsMs = Number(p.timeNs / 1_000_000n);
  const series: PromSeries[] = [];
  if (p.type === 'histogram') {
    let cum = 0;
    p.bounds.forEach((b, i) => {
      cum += p.counts[i] ?? 0;
      series.push({ labels: sorted(`${name}_bucket`, labels, ['le', fmtFloat(b)]), value: cum, tsMs });
    });
    series.push({ labels: sorted(`${name}_bucket`, labels, ['le', '+Inf']), value: p.count, tsMs });
    series.push({ labels: sorted(`${name}_sum`, labels), value: p.sum, tsMs });
    series.push({ labels: sorted(`${name}_count`, labels), value: p.count, tsMs });
  } else {
    series.push({ labels: sorted(name, labels), value: p.value, tsMs });
  }
  return { name, type, help: p.description, series };
}
