import { parseDocument } from 'yaml';

/**
 * A config that defines only components (an exporter under test, a store for `rrpipe query`)
 * gets the smallest service that loads: a file receiver on a glob that matches nothing, feeding
 * every exporter. rrpipe, like the OTel Collector, refuses a config without a service pipeline.
 */
export function withPipeline(text: string): string {
  const doc = parseDocument(text);
  if (doc.hasIn(['service', 'pipelines'])) return text;
  const exporters = doc.get('exporters') as { items?: { key: { value?: unknown } | unknown }[] } | undefined;
  const ids = (exporters?.items ?? []).map((p) => String((p.key as { value?: unknown })?.value ?? p.key));
  if (ids.length === 0) return text;
  if (doc.has('receivers')) throw new Error('withPipeline: the config already has receivers; write its service section yourself');
  doc.set('receivers', { 'file/unused': { include: ['/nonexistent/rrpipe-test/*.jsonl'] } });
  doc.setIn(['service', 'pipelines'], { logs: { receivers: ['file/unused'], exporters: ids } });
  return doc.toString();
}
