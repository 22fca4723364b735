import { dirname, sep } from 'node:path';
import { rrpairField, type RRRecord } from '../../core/record.js';
import { isUnset } from '../../rrpair/types.js';

const TIME_TOKENS = /%[YmdHMS]/;
const FIELD_TOKENS = /\{(service|namespace|cluster|direction|l7protocol)\}/;

/**
 * A file path with event-time partitions (%Y %m %d %H %M %S, UTC, from the RRPair's ts) and
 * record fields ({service} {namespace} {cluster} {direction} {l7protocol}).
 */
export class PathTemplate {
  readonly dynamic: boolean;
  constructor(readonly template: string) {
    this.dynamic = TIME_TOKENS.test(template) || FIELD_TOKENS.test(template);
  }

  render(r: RRRecord): string {
    if (!this.dynamic) return this.template;
    const t = eventTime(r);
    const p2 = (n: number) => String(n).padStart(2, '0');
    return this.template
      .replace(/%Y/g, String(t.getUTCFullYear()))
      .replace(/%m/g, p2(t.getUTCMonth() + 1))
      .replace(/%d/g, p2(t.getUTCDate()))
      .replace(/%H/g, p2(t.getUTCHours()))
      .replace(/%M/g, p2(t.getUTCMinutes()))
      .replace(/%S/g, p2(t.getUTCSeconds()))
      .replace(/\{(service|namespace|cluster|direction|l7protocol)\}/g, (_, f: string) => pathSafe(fieldOf(r, f)));
  }

  /** The directory that holds every file this template can produce (for recovery and retention). */
  baseDir(): string {
    const i = this.template.search(/%[YmdHMS]|\{(service|namespace|cluster|direction|l7protocol)\}/);
    if (i < 0) return dirname(this.template);
    const head = this.template.slice(0, i);
    return head.endsWith(sep) || head.endsWith('/') ? head.slice(0, -1) || '.' : dirname(head);
  }
}

export function eventTime(r: RRRecord): Date {
  // rrpairField: a record whose RRPair is still unread knows these without parsing it.
  const ts = rrpairField(r, 'ts') as string | undefined;
  const ms = ts ? Date.parse(ts) : NaN;
  return Number.isNaN(ms) ? new Date(Number(r.observedNs / 1_000_000n)) : new Date(ms);
}

function fieldOf(r: RRRecord, f: string): string {
  const v = rrpairField(r, f);
  if (!isUnset(v)) return String(v);
  const a = f === 'cluster' ? r.resource.cluster : r.attributes[f];
  return a === undefined || isUnset(a) ? 'unknown' : String(a);
}

function pathSafe(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'unknown' : cleaned;
}
