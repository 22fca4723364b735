import type { Factory, Kind, PluginModule } from './component.js';
import { KINDS } from './component.js';

/** A module of factories loaded on first use, known until then by the type name it registers. */
export interface LazyModule {
  type: string;
  load: () => Promise<PluginModule>;
  source?: string;
}

/** Component factories by kind and type. Built-ins and plugins register the same way. */
export class Registry {
  private readonly byKind = new Map<Kind, Map<string, Factory>>(KINDS.map((k) => [k, new Map()]));
  private readonly pending: LazyModule[] = [];

  /**
   * Modules registered through registerPlugin once loaded: by `load(types)` for the types a
   * config names, or all of them by `loadAll()`. Start-up then pays only for what a config uses.
   */
  registerLazy(mod: LazyModule): void {
    this.pending.push(mod);
  }

  /** Load the pending modules registering any of these type names (several kinds may share one: file, otlp). */
  async load(types: Iterable<string>): Promise<void> {
    const wanted = new Set(types);
    await this.loadWhere((m) => wanted.has(m.type));
  }

  /** Load every pending module (listing components, naming the known types in an error, aliases). */
  async loadAll(): Promise<void> {
    await this.loadWhere(() => true);
  }

  /** Whether some module is still to be loaded. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  private async loadWhere(pick: (m: LazyModule) => boolean): Promise<void> {
    const now = this.pending.filter(pick);
    if (!now.length) return;
    for (const m of now) this.pending.splice(this.pending.indexOf(m), 1);
    const mods = await Promise.all(now.map((m) => m.load()));
    mods.forEach((mod, i) => this.registerPlugin(mod, now[i]!.source ?? 'built-in'));
  }

  register(factory: Factory): void {
    assertFactory(factory);
    const map = this.byKind.get(factory.kind)!;
    for (const name of [factory.type, ...(factory.aliases ?? [])]) {
      const existing = map.get(name);
      if (existing && existing !== factory) {
        throw new Error(`${factory.kind} type "${name}" is registered twice`);
      }
      map.set(name, factory);
    }
  }

  registerPlugin(mod: PluginModule, source = 'plugin'): Factory[] {
    const factories = factoriesOf(mod);
    if (factories.length === 0) {
      throw new Error(`${source}: exports no component factory (export "factories" or a default factory)`);
    }
    for (const f of factories) this.register(f);
    return factories;
  }

  get(kind: Kind, type: string): Factory | undefined {
    return this.byKind.get(kind)!.get(type);
  }

  /** Every factory once (aliases folded), sorted by kind then type. */
  list(): Factory[] {
    const out: Factory[] = [];
    for (const k of KINDS) {
      const seen = new Set<Factory>();
      for (const f of this.byKind.get(k)!.values()) {
        if (!seen.has(f)) {
          seen.add(f);
          out.push(f);
        }
      }
    }
    return out.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.type.localeCompare(b.type));
  }

  types(kind: Kind): string[] {
    return [...this.byKind.get(kind)!.keys()].sort();
  }
}

function factoriesOf(mod: PluginModule): Factory[] {
  if (Array.isArray(mod.factories)) return mod.factories;
  const d = mod.default;
  if (!d) return [];
  if (Array.isArray(d)) return d;
  if ('factories' in d && Array.isArray(d.factories)) return d.factories;
  return [d as Factory];
}

function assertFactory(f: Factory): void {
  const problems: string[] = [];
  if (!f || typeof f !== 'object') throw new Error('a component factory must be an object');
  if (typeof f.type !== 'string' || !/^[a-z][a-z0-9_]*$/.test(f.type)) problems.push(`type "${String(f.type)}" must match [a-z][a-z0-9_]*`);
  if (!KINDS.includes(f.kind)) problems.push(`kind must be one of ${KINDS.join(', ')}`);
  if (typeof f.create !== 'function') problems.push('create must be a function');
  if (!f.schema || typeof f.schema !== 'object') problems.push('schema must be a JSON Schema object');
  if (typeof f.description !== 'string') problems.push('description must be a string');
  if (problems.length) throw new Error(`invalid factory ${String(f.kind)}/${String(f.type)}: ${problems.join('; ')}`);
}
