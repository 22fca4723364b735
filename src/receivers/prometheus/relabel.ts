import { RE2JS } from 're2js';

/** One relabel_configs entry (Prometheus's relabel.Config, the common actions). */
export interface RelabelRule {
  source_labels: string[];
  separator: string;
  regex: string;
  target_label?: string;
  replacement: string;
  action: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep' | 'lowercase' | 'uppercase';
}

export const RELABEL_ACTIONS = ['replace', 'keep', 'drop', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase'] as const;

interface Compiled {
  rule: RelabelRule;
  re: RE2JS;
}

/**
 * Prometheus relabelling over a target's labels. Regexes are anchored as Prometheus anchors them
 * and run on RE2 (linear time, user-supplied patterns cannot stall the event loop). `$1`/`${1}`
 * in replacement and target_label are expanded from the match.
 */
export function compileRelabel(rules: RelabelRule[]): (labels: Map<string, string>) => Map<string, string> | undefined {
  const compiled: Compiled[] = rules.map((rule) => ({ rule, re: RE2JS.compile(`^(?:${rule.regex})$`) }));
  return (input) => {
    let labels = new Map(input);
    for (const { rule, re } of compiled) {
      const value = rule.source_labels.map((l) => labels.get(l) ?? '').join(rule.separator);
      switch (rule.action) {
        case 'keep':
          if (!re.matcher(value).matches()) return undefined;
          break;
        case 'drop':
          if (re.matcher(value).matches()) return undefined;
          break;
        case 'replace': {
          const m = re.matcher(value);
          if (!m.matches() || !rule.target_label) break;
          const target = expand(rule.target_label, m);
          const v = expand(rule.replacement, m);
          if (v === '') labels.delete(target);
          else labels.set(target, v);
          break;
        }
        case 'lowercase':
        case 'uppercase':
          if (rule.target_label) labels.set(rule.target_label, rule.action === 'lowercase' ? value.toLowerCase() : value.toUpperCase());
          break;
        case 'labelmap': {
          const next = new Map(labels);
          for (const [k, v] of labels) {
            const m = re.matcher(k);
            if (m.matches()) next.set(expand(rule.replacement, m), v);
          }
          labels = next;
          break;
        }
        case 'labeldrop':
          for (const k of [...labels.keys()]) if (re.matcher(k).matches()) labels.delete(k);
          break;
        case 'labelkeep':
          for (const k of [...labels.keys()]) if (!re.matcher(k).matches()) labels.delete(k);
          break;
      }
    }
    return labels;
  };
}

function expand(template: string, m: ReturnType<RE2JS['matcher']>): string {
  return template.replace(/\$\{(\w+)\}|\$(\d+)/g, (_s, a: string | undefined, b: string | undefined) => {
    const g = Number(a ?? b);
    if (!Number.isInteger(g) || g > m.groupCount()) return '';
    return m.group(g) ?? '';
  });
}
