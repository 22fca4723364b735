import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/components.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { Registry } from '../../src/core/registry.js';
import type { Factory } from '../../src/core/component.js';

const fake = (kind: Factory['kind'], type: string, aliases?: string[]): Factory =>
  ({ kind, type, aliases, stability: 'alpha', description: type, schema: { type: 'object' }, create: () => ({}) }) as unknown as Factory;

const config = (receiver: string, exporter: string) => `
receivers: { ${receiver}: {} }
exporters: { ${exporter}: {} }
service: { pipelines: { logs: { receivers: [${receiver}], exporters: [${exporter}] } } }
`;

describe('lazy registry (start-up loads only the components a config names)', () => {
  it('loads the modules of the types the config names, and no other', async () => {
    const loaded: string[] = [];
    const r = new Registry();
    for (const [kind, type] of [['receiver', 'alpha'], ['exporter', 'beta'], ['exporter', 'gamma']] as const) {
      r.registerLazy({ type, load: async () => (loaded.push(type), { factories: [fake(kind, type)] }) });
    }
    const cfg = await loadConfig(['t.yaml'], { registry: r, texts: { 't.yaml': config('alpha', 'beta') } });
    expect(cfg.components.receivers.get('alpha')?.factory.type).toBe('alpha');
    expect(loaded.sort()).toEqual(['alpha', 'beta']);
    expect(r.get('exporter', 'gamma')).toBeUndefined();
  });

  it('an alias or an unknown type loads every module: the alias resolves, the error names every known type', async () => {
    const r = new Registry();
    r.registerLazy({ type: 'alpha', load: async () => ({ factories: [fake('receiver', 'alpha')] }) });
    r.registerLazy({ type: 'beta', load: async () => ({ factories: [fake('exporter', 'beta', ['b2'])] }) });
    r.registerLazy({ type: 'gamma', load: async () => ({ factories: [fake('exporter', 'gamma')] }) });
    const cfg = await loadConfig(['t.yaml'], { registry: r, texts: { 't.yaml': config('alpha', 'b2') } });
    expect(cfg.components.exporters.get('b2')?.factory.type).toBe('beta');

    const r2 = new Registry();
    r2.registerLazy({ type: 'alpha', load: async () => ({ factories: [fake('receiver', 'alpha')] }) });
    r2.registerLazy({ type: 'gamma', load: async () => ({ factories: [fake('exporter', 'gamma')] }) });
    const err = await loadConfig(['t.yaml'], { registry: r2, texts: { 't.yaml': config('alpha', 'nope') } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/unknown exporter type "nope" \(known: gamma\)/);
  });

  it('the built-ins: lazily and eagerly filled registries resolve the same factories', async () => {
    const eager = await builtinRegistry();
    const lazy = await builtinRegistry({ lazy: true });
    expect(lazy.get('exporter', 'file')).toBeUndefined();
    await lazy.loadAll();
    expect(lazy.list().map((f) => `${f.kind}/${f.type}`)).toEqual(eager.list().map((f) => `${f.kind}/${f.type}`));
    // every built-in folder registers the type it is listed under
    const fresh = await builtinRegistry({ lazy: true });
    for (const f of eager.list()) {
      await fresh.load([f.type]);
      expect(fresh.get(f.kind, f.type), `${f.kind}/${f.type}`).toBe(f);
    }
  });
});
