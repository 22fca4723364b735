import type { Consumer, CreateSettings, ExporterFactory, ConnectorFactory, JSONSchema, ConfigProblem, Stability } from '../../../core/component.js';
import { errorMessage } from '../../../core/errors.js';
import type { ExporterHelperConfig } from '../../../helpers/exporter.js';
import { assertCompression } from '../../../layouts/format.js';
import { checkSpec } from '../../../layouts/layout.js';
import type { ObjectStore } from '../../../layouts/store.js';
import { archiveExporter, type ArchiveOptions } from './exporter.js';

/** Register a store exporter as both an exporter and a connector of the same type. */
export function archiveFactories<C>(def: {
  type: string;
  aliases?: string[];
  description: string;
  /** Declared by each archive component, per kind. */
  stability: { exporter: Stability; connector: Stability };
  schema: JSONSchema;
  validate?: (c: C) => ConfigProblem[];
  build: (s: CreateSettings<C>) => { openStore: () => ObjectStore; options: ArchiveOptions };
}): [ExporterFactory<C>, ConnectorFactory<C>] {
  const validate = (c: C): ConfigProblem[] => {
    const problems = def.validate?.(c) ?? [];
    try {
      const { options } = def.build({ config: c } as CreateSettings<C>);
      const bad = checkSpec(options.spec);
      if (bad) problems.push({ message: bad });
      assertCompression(options.spec.compression);
    } catch (err) {
      problems.push({ message: errorMessage(err) });
    }
    return problems;
  };
  const make = (s: CreateSettings<C>, next?: Consumer) => {
    const b = def.build(s);
    return archiveExporter(s as unknown as CreateSettings<ExporterHelperConfig>, b.openStore, b.options, next);
  };
  return [
    { kind: 'exporter', type: def.type, ...(def.aliases ? { aliases: def.aliases } : {}), stability: def.stability.exporter, description: def.description, schema: def.schema, validate, create: (s) => make(s) },
    {
      kind: 'connector',
      type: def.type,
      ...(def.aliases ? { aliases: def.aliases } : {}),
      stability: def.stability.connector,
      description: `${def.description} As a connector: hands the archived records, each with its location, to the pipelines that take it as a receiver.`,
      schema: def.schema,
      validate,
      create: (s, next) => make(s, next),
    },
  ];
}
