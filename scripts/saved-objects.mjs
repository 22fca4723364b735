#!/usr/bin/env node
// Writes the Kibana and OpenSearch Dashboards saved objects (ndjson) in dashboards/kibana and
// dashboards/opensearch from dashboards/fields.json: per document shape an index pattern, a few
// visualizations, saved searches and a dashboard. `--check` fails when a file is not what this
// script would write. The objects use the 7.10 saved-object format, which OpenSearch Dashboards
// (a 7.10.2 fork) imports as it is and Kibana 8 migrates on import.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { shapes } = JSON.parse(readFileSync(join(ROOT, 'dashboards/fields.json'), 'utf8'));

/** Which fields of a shape play which part in the objects (only roles a shape has get a visualization). */
const ROLES = {
  rrpipe: { service: 'service', cluster: 'cluster', namespace: 'namespace', status: 'status', protocol: 'l7protocol', endpoint: 'location', method: 'command', direction: 'direction', duration: 'duration', columns: ['service', 'direction', 'l7protocol', 'command', 'location', 'status', 'duration', 'archive_uri'] },
  otel: { service: 'Attributes.service', cluster: 'Resource.cluster', namespace: 'Attributes.namespace', status: 'Body.status', protocol: 'Body.l7protocol', endpoint: 'Body.location', method: 'Body.command', direction: 'Body.direction', duration: 'Body.duration', columns: ['Attributes.service', 'Body.direction', 'Body.l7protocol', 'Body.command', 'Body.location', 'Body.status', 'Body.duration'] },
  ss4o: { service: 'attributes.service', cluster: 'resource.cluster', namespace: 'attributes.namespace', columns: ['attributes.service', 'attributes.namespace', 'resource.cluster', 'body'] },
};

const OUTPUTS = [
  { file: 'dashboards/kibana/rrpipe-index.ndjson', shape: 'rrpipe', product: 'Kibana' },
  { file: 'dashboards/kibana/otel-logs.ndjson', shape: 'otel', product: 'Kibana' },
  { file: 'dashboards/opensearch/rrpipe-index.ndjson', shape: 'rrpipe', product: 'OpenSearch Dashboards' },
  { file: 'dashboards/opensearch/ss4o-logs.ndjson', shape: 'ss4o', product: 'OpenSearch Dashboards' },
];

const KIBANA_TYPES = { date: ['date'], string: ['keyword'], number: ['long'] };

function searchSource(query = '', extra = {}) {
  return JSON.stringify({ ...extra, query: { query, language: 'kuery' }, filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' });
}

function indexPattern(id, shape) {
  const fields = Object.entries(shape.fields).map(([name, f]) => ({
    name, type: f.type, esTypes: KIBANA_TYPES[f.type] && f.aggregatable ? KIBANA_TYPES[f.type] : ['text'],
    count: 0, scripted: false, searchable: true, aggregatable: f.aggregatable, readFromDocValues: f.aggregatable,
  }));
  return {
    id, type: 'index-pattern', version: '1', migrationVersion: { 'index-pattern': '7.6.0' }, references: [],
    attributes: { title: shape.pattern, timeFieldName: shape.timeField, fields: JSON.stringify(fields) },
  };
}

const count = { id: '1', enabled: true, type: 'count', params: {}, schema: 'metric' };
const terms = (id, field, schema, size = 10) => ({ id, enabled: true, type: 'terms', schema, params: { field, size, order: 'desc', orderBy: '1', otherBucket: false, missingBucket: false } });
const TABLE = { perPage: 10, showPartialRows: false, showMetricsAtAllLevels: false, showTotal: false, totalFunc: 'sum', percentageCol: '' };
const PIE = { type: 'pie', addTooltip: true, addLegend: true, legendPosition: 'right', isDonut: true, labels: { show: false, values: true, last_level: true, truncate: 100 } };

function histogramParams() {
  return {
    type: 'histogram', addTooltip: true, addLegend: true, legendPosition: 'right', times: [], addTimeMarker: false,
    grid: { categoryLines: false },
    categoryAxes: [{ id: 'CategoryAxis-1', type: 'category', position: 'bottom', show: true, style: {}, scale: { type: 'linear' }, labels: { show: true, filter: true, truncate: 100 }, title: {} }],
    valueAxes: [{ id: 'ValueAxis-1', name: 'LeftAxis-1', type: 'value', position: 'left', show: true, style: {}, scale: { type: 'linear', mode: 'normal' }, labels: { show: true, rotate: 0, filter: false, truncate: 100 }, title: { text: 'Calls' } }],
    seriesParams: [{ show: true, type: 'histogram', mode: 'stacked', data: { label: 'Calls', id: '1' }, valueAxis: 'ValueAxis-1', drawLinesBetweenPoints: true, showCircles: true }],
  };
}

/** The visualizations a shape's roles allow: [id suffix, title, vis type, aggs, params]. */
function visualizations(shape, r) {
  const out = [];
  if (r.service) {
    out.push(['calls-over-time', 'Calls over time by service', 'histogram', [
      count,
      { id: '2', enabled: true, type: 'date_histogram', schema: 'segment', params: { field: shape.timeField, interval: 'auto', min_doc_count: 1, extended_bounds: {} } },
      terms('3', r.service, 'group'),
    ], histogramParams()]);
  }
  if (r.status) out.push(['status-mix', 'Status mix', 'pie', [count, terms('2', r.status, 'segment', 20)], PIE]);
  if (r.protocol) out.push(['protocol-mix', 'Protocol mix', 'pie', [count, terms('2', r.protocol, 'segment', 20)], PIE]);
  if (r.duration && r.service) {
    out.push(['latency-by-service', 'Latency p50 / p95 / p99 by service (ms)', 'table', [
      { id: '1', enabled: true, type: 'percentiles', schema: 'metric', params: { field: r.duration, percents: [50, 95, 99] } },
      { id: '3', enabled: true, type: 'count', schema: 'metric', params: {} },
      { ...terms('2', r.service, 'bucket', 20), params: { ...terms('2', r.service, 'bucket', 20).params, orderBy: '3' } },
    ], TABLE]);
  }
  if (r.endpoint && r.service) {
    out.push(['top-endpoints', 'Top endpoints by calls', 'table', [
      count, terms('2', r.service, 'bucket', 10), terms('3', r.method ?? r.endpoint, 'bucket', 10), terms('4', r.endpoint, 'bucket', 10),
      ...(r.duration ? [{ id: '5', enabled: true, type: 'avg', schema: 'metric', params: { field: r.duration } }] : []),
    ], TABLE]);
  }
  if (r.cluster && r.namespace) {
    out.push(['calls-by-namespace', 'Calls by cluster and namespace', 'table', [count, terms('2', r.cluster, 'bucket', 10), terms('3', r.namespace, 'bucket', 20), ...(r.direction ? [terms('4', r.direction, 'bucket', 2)] : [])], TABLE]);
  }
  return out;
}

function objectsOf(shapeName, product) {
  const shape = shapes[shapeName];
  const r = ROLES[shapeName];
  const prefix = `rrpipe-${shapeName}`;
  const ipId = `${prefix}-index-pattern`;
  const ref = [{ id: ipId, name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' }];
  const objs = [indexPattern(ipId, shape)];
  const panels = [];
  for (const [suffix, title, type, aggs, params] of visualizations(shape, r)) {
    const id = `${prefix}-${suffix}`;
    objs.push({
      id, type: 'visualization', version: '1', migrationVersion: { visualization: '7.10.0' }, references: ref,
      attributes: {
        title: `${shape.title}: ${title}`, description: '', version: 1, uiStateJSON: '{}',
        visState: JSON.stringify({ title: `${shape.title}: ${title}`, type, aggs, params }),
        kibanaSavedObjectMeta: { searchSourceJSON: searchSource() },
      },
    });
    panels.push({ id, type: 'visualization' });
  }
  const searches = [['recent', 'Recent RRPairs', '']];
  if (r.status) searches.push(['errors', 'Server errors (5xx)', `${r.status} : 5*`]);
  for (const [suffix, title, query] of searches) {
    const id = `${prefix}-search-${suffix}`;
    objs.push({
      id, type: 'search', version: '1', migrationVersion: { search: '7.9.3' }, references: ref,
      attributes: {
        title: `${shape.title}: ${title}`, description: '', hits: 0, version: 1, columns: r.columns, sort: [[shape.timeField, 'desc']],
        kibanaSavedObjectMeta: { searchSourceJSON: searchSource(query, { highlightAll: true, version: true }) },
      },
    });
    panels.push({ id, type: 'search' });
  }
  const panelsJSON = panels.map((p, i) => ({
    version: '7.10.0', panelIndex: String(i + 1), embeddableConfig: {}, panelRefName: `panel_${i}`,
    gridData: p.type === 'search' ? { x: 0, y: 15 * Math.ceil((panels.length - searches.length) / 2) + 20 * (i - (panels.length - searches.length)), w: 48, h: 20, i: String(i + 1) } : { x: (i % 2) * 24, y: 15 * Math.floor(i / 2), w: 24, h: 15, i: String(i + 1) },
  }));
  objs.push({
    id: `${prefix}-dashboard`, type: 'dashboard', version: '1', migrationVersion: { dashboard: '7.9.3' },
    references: panels.map((p, i) => ({ id: p.id, name: `panel_${i}`, type: p.type })),
    attributes: {
      title: `rrpipe — ${shape.title}`, description: `${shape.doc}. For ${product}.`, hits: 0, version: 1, timeRestore: false,
      optionsJSON: JSON.stringify({ hidePanelTitles: false, useMargins: true }), panelsJSON: JSON.stringify(panelsJSON),
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
  });
  return objs;
}

const check = process.argv.includes('--check');
let stale = 0;
for (const o of OUTPUTS) {
  const text = objectsOf(o.shape, o.product).map((x) => JSON.stringify(x)).join('\n') + '\n';
  const path = join(ROOT, o.file);
  if (check) {
    let have = '';
    try {
      have = readFileSync(path, 'utf8');
    } catch { /* missing */ }
    if (have !== text) {
      console.error(`saved objects: ${o.file} is out of date; run node scripts/saved-objects.mjs`);
      stale++;
    }
  } else writeFileSync(path, text);
}
if (stale) process.exit(1);
if (!check) console.log(`saved objects: ${OUTPUTS.map((o) => o.file).join(', ')}`);
