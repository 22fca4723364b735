import { dirname, sep } from 'node:path';
import { rrpairField, type RRRecord } from '../../core/record.js';
import { isUnset } from '../../rrpair/types.js';

const TIME_TOKENS = /%[YmdHMS]/;
const FIELD_TOKENS = /\{(service|namespace|cluster|direction|l7protocol)\}/;
const ANY_TOKEN = /%[YmdHMS]|\{(?:service|namespace|cluster|direction|l7protocol)\}/g;

/**
 * A file path with event-time partitions (%Y %m %d %H %M %S, UTC, from the RRPair's ts) and
 * record fields ({service} {namespace} {cluster} {direction} {l7protocol}).
 */
export class PathTemplate {
  readonly dynamic: boolean;
  /** The template cut at its tokens: literal text, then a token (`%Y`, `{service}`…), in turn. */
  private readonly parts: string[] = [];
  private readonly timed: boolean;

  constructor(readonly template: string) {
    this.dynamic = TIME_TOKENS.test(template) || FIELD_TOKENS.test(template);
    this.timed = TIME_TOKENS.test(template);
    let at = 0;
    for (const m of template.matchAll(ANY_TOKEN)) {
      this.parts.push(template.slice(at, m.index), m[0]);
      at = m.index + m[0].length;
    }
    this.parts.push(template.slice(at));
  }

  render(r: RRRecord): string {
    if (!this.dynamic) return this.template;
    // One pass over the cut template; the same as replacing each token in turn (no value a token
    // becomes can make another token).
    const t = this.timed ? eventTime(r) : undefined;
    const parts = this.parts;
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) out += tokenValue(parts[i]!, r, t) + parts[i + 1]!;
    return out;
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

const p2 = (n: number) => String(n).padStart(2, '0');

function tokenValue(token: string, r: RRRecord, t: Date | undefined): string {
  switch (token) {
    case '%Y':
      return String(t!.getUTCFullYear());
    case '%m':
      return p2(t!.getUTCMonth() + 1);
    case '%d':
      return p2(t!.getUTCDate());
    case '%H':
      return p2(t!.getUTCHours());
    case '%M':
      return p2(t!.getUTCMinutes());
    case '%S':
      return p2(t!.getUTCSeconds());
    default:
      return pathSafe(fieldOf(r, token.slice(1, -1)));
  }
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
