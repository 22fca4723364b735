import { existsSync, statSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConnectorFactory, Factory, Kind, PluginModule } from '../core/component.js';
import { SIGNALS, type Signal } from '../core/metric.js';
import { parseId } from '../core/component.js';
import type { Registry } from '../core/registry.js';
import { resolvePaths, schemaAt, secretValues } from './annotations.js';
import { topLevelSchema, type ServiceConfig } from './service-schema.js';
import {
  formatIssue, isPlainObject, mergeSources, parseSource, pathKey, positionOf,
  type ConfigIssue, type ParsedSource, type PositionMap, type UnsetRef,
} from './source.js';
import { validateAgainst } from './validate-schema.js';
import { adminExposureWarnings } from './exposure.js';

export interface ComponentConfig {
  id: string;
  kind: Kind;
  type: string;
  factory: Factory;
  config: Record<string, unknown>;
}

export interface PipelineConfig {
  id: string;
  /** The pipeline type: what its components carry. */
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ResolvedConfig {
  files: string[];
  configDir: string;
  components: Record<'receivers' | 'processors' | 'exporters' | 'connectors' | 'extensions', Map<string, ComponentConfig>>;
  pipelines: Map<string, PipelineConfig>;
  serviceExtensions: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** host:port for /metrics, or undefined when metrics are off. */
  metricsAddress?: string;
  gracePeriodMs: number;
  dataDir: string;
  /** service.umask: the process umask, as octal text ("077"). */
  umask: ServiceConfig['umask'];
  /** The merged, expanded and defaulted document (what print-config shows, masked). */
  resolved: Record<string, unknown>;
  /** Every value of a secret (x-secret) key: masked in logs and error messages. */
  secrets: Set<string>;
  warnings: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
  }
}

const SECTIONS = [
  ['receivers', 'receiver'],
  ['processors', 'processor'],
  ['exporters', 'exporter'],
  ['connectors', 'connector'],
  ['extensions', 'extension'],
] as const;

export interface LoadOptions {
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  /** Config text by file name, instead of reading the files (tests, embedded default). */
  texts?: Record<string, string>;
}

/** Load, merge, expand, plugin-load and validate config files. Throws ConfigError listing every problem. */
export async function loadConfig(files: string[], opts: LoadOptions): Promise<ResolvedConfig> {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const sources: ParsedSource[] = [];
  for (const f of files) {
    const s = parseSource(f, env, issues, warnings, opts.texts?.[f]);
    if (s) sources.push(s);
  }
  if (issues.length) throw new ConfigError(issues);
  if (sources.length === 0) throw new ConfigError([{ message: 'no config file given' }]);

  for (const s of sources) await loadPlugins(s, opts.registry, issues);

  const { value, positions } = mergeSources(sources);
  const at = (path: (string | number)[], key = false) => positionOf(positions, path, key);

  for (const p of validateAgainst(topLevelSchema, value)) {
    // a problem of the whole document (an empty file: no service) is placed at the top of the first file
    issues.push({ pos: at(p.path, p.atKey) ?? (p.path.length === 0 ? { file: sources[0]!.file, line: 1, col: 1 } : undefined), where: sectionName(p.path), message: p.message });
  }
  resolvePaths(topLevelSchema, value);

  await loadUsedTypes(value, opts.registry);

  const components = {} as ResolvedConfig['components'];
  for (const [section, kind] of SECTIONS) {
    const map = new Map<string, ComponentConfig>();
    components[section] = map;
    const body = value[section];
    if (!isPlainObject(body)) continue;
    for (const [id, raw] of Object.entries(body)) {
      const c = checkComponent(section, kind, id, raw, opts.registry, positions, issues);
      if (c) {
        resolvePaths(c.factory.schema, c.config);
        map.set(id, c);
        body[id] = c.config;
      }
    }
  }

  checkUnsetEnv(sources.flatMap((s) => s.unset), components, positions, issues, warnings);

  const service = (isPlainObject(value.service) ? value.service : {}) as Partial<ServiceConfig> & Record<string, unknown>;
  const pipelines = checkPipelines(service, components, positions, issues, warnings);
  const serviceExtensions = Array.isArray(service.extensions) ? service.extensions : [];
  serviceExtensions.forEach((id, i) => {
    if (!components.extensions.has(id)) {
      issues.push({ pos: at(['service', 'extensions', i]), where: 'service.extensions', message: `extension "${id}" is not defined under extensions` });
    }
  });
  checkExtensionRefs(components, serviceExtensions, positions, issues);

  if (issues.length) throw new ConfigError(issues);

  const svc = service as ServiceConfig;
  const telemetry = svc.telemetry;
  const configDir = dirname(resolve(files[files.length - 1]!));
  const secrets = secretValues(topLevelSchema, value);
  for (const [section] of SECTIONS) for (const c of components[section].values()) secretValues(c.factory.schema, c.config, secrets);
  const metricsAddress = telemetry.metrics.level === 'none' ? undefined : readerAddress(telemetry.metrics.readers) ?? telemetry.metrics.address;
  warnings.push(...adminExposureWarnings(new Map([...components.extensions].filter(([id]) => serviceExtensions.includes(id))), metricsAddress));
  return {
    files,
    configDir,
    components,
    pipelines,
    serviceExtensions,
    logLevel: telemetry.logs.level,
    metricsAddress,
    gracePeriodMs: svc.grace_period,
    dataDir: svc.data_dir,
    umask: svc.umask,
    resolved: value,
    secrets,
    warnings,
  };
}

/**
 * An unset `${env:X}` is an error where it would weaken security silently (a secret turning auth
 * off, an address falling back to all interfaces) and a warning elsewhere.
 */
function checkUnsetEnv(unset: UnsetRef[], components: ResolvedConfig['components'], positions: PositionMap, issues: ConfigIssue[], warnings: string[]): void {
  for (const u of unset) {
    const now = positions.value.get(pathKey(u.path));
    if (!now || now.file !== u.pos.file || now.line !== u.pos.line || now.col !== u.pos.col) continue; // overridden by a later file
    const [section, id, ...rest] = u.path;
    const c = typeof section === 'string' && typeof id === 'string' ? (components as Record<string, Map<string, ComponentConfig> | undefined>)[section]?.get(id) : undefined;
    const s = c ? schemaAt(c.factory.schema, rest) : schemaAt(topLevelSchema, u.path);
    const parent = c && rest.length > 1 ? schemaAt(c.factory.schema, rest.slice(0, -1)) : undefined;
    const secret = s?.['x-secret'] === true || parent?.['x-secret'] === true;
    const addr = s?.['x-address'] === true;
    if (secret || addr) {
      issues.push({
        pos: u.pos,
        where: sectionName(u.path),
        message: `environment variable ${u.name} is not set; \${${u.ref}} names ${secret ? 'a secret' : 'an address'}, which must not silently be empty (set it, or write a default: \${env:${u.name}:-…})`,
      });
    } else {
      warnings.push(`environment variable ${u.name} is not set; \${${u.ref}} expands to an empty string`);
      // a value refused for being empty ("must NOT have fewer than 1 characters") says why
      for (const i of issues) if (i.pos && i.pos.file === now.file && i.pos.line === now.line && i.pos.col === now.col) i.message += ` (\${${u.ref}} is not set)`;
    }
  }
}

function sectionName(path: (string | number)[]): string | undefined {
  if (path.length === 0) return undefined;
  if (path[0] === 'service') return path.slice(0, Math.min(path.length, 3)).join('.');
  return path.slice(0, 2).join('.');
}

/**
 * A lazily filled registry (builtinRegistry({ lazy: true })) loads the modules of the types the
 * config names; when one is still unknown (an alias, a typo) it loads them all, so that the
 * alias resolves and the error lists every known type.
 */
async function loadUsedTypes(value: Record<string, unknown>, registry: Registry): Promise<void> {
  if (!registry.hasPending) return;
  const used: [Kind, string][] = [];
  for (const [section, kind] of SECTIONS) {
    const body = value[section];
    if (isPlainObject(body)) for (const id of Object.keys(body)) used.push([kind, parseId(id).type]);
  }
  await registry.load(used.map(([, type]) => type));
  if (used.some(([kind, type]) => !registry.get(kind, type))) await registry.loadAll();
}

function checkComponent(
  section: string, kind: Kind, id: string, raw: unknown, registry: Registry, positions: PositionMap, issues: ConfigIssue[],
): ComponentConfig | undefined {
  const where = `${section}.${id}`;
  const { type, name } = parseId(id);
  if (name === '' || !/^[a-z][a-z0-9_]*$/.test(type)) {
    issues.push({ pos: positionOf(positions, [section, id], true), where, message: `invalid component id "${id}" (expected "type" or "type/name")` });
    return undefined;
  }
  const factory = registry.get(kind, type);
  if (!factory) {
    const known = registry.types(kind);
    issues.push({ pos: positionOf(positions, [section, id], true), where, message: `unknown ${kind} type "${type}" (known: ${known.join(', ') || 'none'})` });
    return undefined;
  }
  const config = raw === null || raw === undefined ? {} : raw;
  if (!isPlainObject(config)) {
    issues.push({ pos: positionOf(positions, [section, id]), where, message: `the config of ${kind} "${id}" must be a map, got ${Array.isArray(config) ? 'a list' : typeof config}` });
    return undefined;
  }
  const problems = validateAgainst(factory.schema, config);
  for (const p of problems) issues.push({ pos: positionOf(positions, [section, id, ...p.path], p.atKey), where, message: p.message });
  if (problems.length === 0 && factory.validate) {
    for (const p of factory.validate(config)) {
      const path = [section, id, ...(p.path ?? [])];
      const inString = p.offset !== undefined ? positions.inString?.get(pathKey(path)) : undefined;
      issues.push({ pos: inString ? inString(p.offset!) : positionOf(positions, path), where, message: p.message });
    }
  }
  return { id, kind, type: factory.type, factory, config };
}

function checkPipelines(
  service: Record<string, unknown>, components: ResolvedConfig['components'], positions: PositionMap, issues: ConfigIssue[], warnings: string[],
): Map<string, PipelineConfig> {
  const out = new Map<string, PipelineConfig>();
  const pipelines = isPlainObject(service.pipelines) ? service.pipelines : {};
  const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
  const connectorAs = new Map<string, { asExporter: string[]; asReceiver: string[] }>();
  for (const [pid, body] of Object.entries(pipelines)) {
    const where = `service.pipelines.${pid}`;
    const { type } = parseId(pid);
    if (!(SIGNALS as readonly string[]).includes(type)) {
      issues.push({ pos: positionOf(positions, ['service', 'pipelines', pid], true), where, message: `pipeline type "${type}" is not supported (use ${SIGNALS.map((x) => `"${x}"`).join(' or ')}, optionally with "/<name>")` });
      continue;
    }
    const signal = type as Signal;
    if (!isPlainObject(body)) continue;
    const p: PipelineConfig = {
      id: pid,
      signal,
      receivers: (body.receivers as string[] | undefined) ?? [],
      processors: (body.processors as string[] | undefined) ?? [],
      exporters: (body.exporters as string[] | undefined) ?? [],
    };
    const check = (role: 'receivers' | 'processors' | 'exporters') => {
      const seen = new Set<string>();
      p[role].forEach((cid, i) => {
        const pos = positionOf(positions, ['service', 'pipelines', pid, role, i]);
        if (seen.has(cid)) issues.push({ pos, where, message: `${role.slice(0, -1)} "${cid}" is listed twice` });
        seen.add(cid);
        const isConnector = role !== 'processors' && components.connectors.has(cid);
        if (isConnector) {
          const c = connectorAs.get(cid) ?? { asExporter: [], asReceiver: [] };
          (role === 'exporters' ? c.asExporter : c.asReceiver).push(pid);
          connectorAs.set(cid, c);
          return;
        }
        if (!components[role].has(cid)) {
          const hint = role === 'processors' ? '' : ' or connectors';
          issues.push({ pos, where, message: `${role.slice(0, -1)} "${cid}" is not defined under ${role}${hint}` });
          return;
        }
        const supported = components[role].get(cid)!.factory.signals ?? ['logs'];
        if (!supported.includes(signal)) {
          issues.push({ pos, where, message: `${role.slice(0, -1)} "${cid}" does not support ${signal} pipelines (it works in: ${supported.join(', ')})` });
        }
        used[role].add(cid);
      });
    };
    check('receivers');
    check('processors');
    check('exporters');
    out.set(pid, p);
  }
  for (const [cid, c] of connectorAs) {
    const pos = positionOf(positions, ['connectors', cid], true);
    if (c.asExporter.length === 0) issues.push({ pos, where: `connectors.${cid}`, message: `connector is used as a receiver (in ${c.asReceiver.join(', ')}) but no pipeline uses it as an exporter` });
    if (c.asReceiver.length === 0) issues.push({ pos, where: `connectors.${cid}`, message: `connector is used as an exporter (in ${c.asExporter.join(', ')}) but no pipeline uses it as a receiver` });
    const f = components.connectors.get(cid)!.factory as ConnectorFactory;
    const connects = f.connects ?? [['logs', 'logs']];
    for (const from of c.asExporter) {
      for (const to of c.asReceiver) {
        const a = out.get(from)?.signal;
        const b = out.get(to)?.signal;
        if (!a || !b || connects.some(([x, y]) => x === a && y === b)) continue;
        issues.push({ pos, where: `connectors.${cid}`, message: `connector cannot link a ${a} pipeline (${from}) to a ${b} pipeline (${to}); it links ${connects.map(([x, y]) => `${x} to ${y}`).join(', ')}` });
      }
    }
  }
  for (const cid of components.connectors.keys()) {
    if (!connectorAs.has(cid)) warnings.push(`connectors.${cid} is defined but no pipeline uses it`);
  }
  const cycle = findConnectorCycle(out, components.connectors);
  if (cycle) {
    issues.push({ pos: positionOf(positions, ['service', 'pipelines', cycle[0]!], true), where: `service.pipelines.${cycle[0]}`, message: `connectors form a cycle: ${cycle.join(' -> ')}` });
  }
  for (const role of ['receivers', 'processors', 'exporters'] as const) {
    for (const cid of components[role].keys()) {
      if (!used[role].has(cid)) warnings.push(`${role}.${cid} is defined but no pipeline uses it`);
    }
  }
  return out;
}

/** Pipelines linked by connectors must not loop back on themselves. Returns the cycle's pipelines, if any. */
function findConnectorCycle(pipelines: Map<string, PipelineConfig>, connectors: Map<string, ComponentConfig>): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const p of pipelines.values()) {
    const targets: string[] = [];
    for (const e of p.exporters) {
      if (!connectors.has(e)) continue;
      for (const q of pipelines.values()) if (q.receivers.includes(e)) targets.push(q.id);
    }
    next.set(p.id, targets);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const n of next.get(id) ?? []) {
      const c = visit(n);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of next.keys()) {
    const c = visit(id);
    if (c) return c;
  }
  return undefined;
}

/** Keys that name an extension (a queue's `storage`, an `authenticator`) must name one that is defined and enabled. */
function checkExtensionRefs(components: ResolvedConfig['components'], enabled: string[], positions: PositionMap, issues: ConfigIssue[]): void {
  for (const [section] of SECTIONS) {
    if (section === 'extensions') continue;
    for (const c of components[section].values()) {
      walkRefs(c.config, [], (path, ref) => {
        const pos = positionOf(positions, [section, c.id, ...path]);
        if (!components.extensions.has(ref)) issues.push({ pos, where: `${section}.${c.id}`, message: `"${path.join('.')}" names extension "${ref}", which is not defined under extensions` });
        else if (!enabled.includes(ref)) issues.push({ pos, where: `${section}.${c.id}`, message: `"${path.join('.')}" names extension "${ref}", which is not listed in service.extensions` });
      });
    }
  }
}

const EXTENSION_REF_KEYS = new Set(['storage', 'authenticator']);

function walkRefs(v: unknown, path: (string | number)[], found: (path: (string | number)[], ref: string) => void): void {
  if (!isPlainObject(v)) return;
  for (const [k, child] of Object.entries(v)) {
    if (EXTENSION_REF_KEYS.has(k) && typeof child === 'string') found([...path, k], child);
    else walkRefs(child, [...path, k], found);
  }
}

function readerAddress(readers: unknown[] | undefined): string | undefined {
  for (const r of readers ?? []) {
    const prom = (r as { pull?: { exporter?: { prometheus?: { host?: string; port?: number } } } }).pull?.exporter?.prometheus;
    if (prom) return `${prom.host ?? 'localhost'}:${prom.port ?? 8888}`;
  }
  return undefined;
}

async function loadPlugins(source: ParsedSource, registry: Registry, issues: ConfigIssue[]): Promise<void> {
  const list = isPlainObject(source.value) ? source.value.plugins : undefined;
  if (!Array.isArray(list)) return;
  const baseDir = dirname(resolve(source.file));
  for (let i = 0; i < list.length; i++) {
    const spec = list[i];
    if (typeof spec !== 'string') continue;
    const pos = positionOf(source.positions, ['plugins', i]);
    try {
      const mod = (await import(resolvePlugin(spec, baseDir))) as PluginModule;
      registry.registerPlugin(mod, spec);
    } catch (err) {
      issues.push({ pos, where: 'plugins', message: `cannot load plugin "${spec}": ${(err as Error).message}` });
    }
  }
}

/** A path (file or directory, relative to the config) or an npm package name, as an import() specifier. */
export function resolvePlugin(spec: string, baseDir: string): string {
  if (spec.startsWith('.') || isAbsolute(spec)) {
    let p = resolve(baseDir, spec);
    if (existsSync(p) && statSync(p).isDirectory()) {
      const pkgFile = join(p, 'package.json');
      const pkg = existsSync(pkgFile) ? (JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string; exports?: unknown }) : {};
      const entry = typeof pkg.exports === 'string' ? pkg.exports : pkg.main;
      p = entry ? resolve(p, entry) : ['index.js', 'index.mjs'].map((f) => join(p, f)).find((f) => existsSync(f)) ?? join(p, 'index.js');
    }
    return pathToFileURL(p).href;
  }
  try {
    return pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(spec)).href;
  } catch {
    return spec;
  }
}
