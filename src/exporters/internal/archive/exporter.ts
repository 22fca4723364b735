import { randomInt } from 'node:crypto';
import type { Component, Consumer, CreateSettings } from '../../../core/component.js';
import { errorMessage, isRetryable, PartialFailureError, type ItemFailure } from '../../../core/errors.js';
import type { RecordBatch, RRRecord } from '../../../core/record.js';
import { createExporter, type ExporterHelperConfig } from '../../../helpers/exporter.js';
import { assertCompression, compress, encodeRecords, encodedOrder, type Compression, type Format } from '../../../layouts/format.js';
import { ensureManifest, layoutDefaults, planObjects, type LayoutName, type LayoutSpec } from '../../../layouts/layout.js';
import { eachLimit } from '../../../layouts/reader.js';
import { ObjectExistsError, type ObjectStore } from '../../../layouts/store.js';

export interface ArchiveOptions {
  spec: LayoutSpec;
  writeManifest: boolean;
  /** Objects written at once per batch. */
  parallel?: number;
}

/**
 * The archive options of the two Azure Storage archives (azure_blob, azure_datalake), which share
 * their keys: `json` is the OTel azure_blob marshaler's name for otlp_json, format and compression
 * default to the layout's, and the manifest is written except under the OTel names.
 */
export function azureArchiveOptions(c: {
  layout: LayoutName; prefix: string; format?: 'json' | Format; compression?: Compression; write_manifest?: boolean; parallel?: number;
}): ArchiveOptions {
  const d = layoutDefaults(c.layout);
  const format: Format = c.format === 'json' ? 'otlp_json' : c.format ?? d.format;
  return {
    spec: { layout: c.layout, prefix: c.prefix, format, compression: c.compression ?? d.compression },
    writeManifest: c.write_manifest ?? c.layout !== 'otel_azure_blob',
    parallel: c.parallel,
  };
}

/** A new name for an object whose name was taken (OTel azure_blob names have a 4-digit serial). */
function renamed(key: string): string | undefined {
  const m = /^(.*\.[a-z]+_)\d+((?:\.gz|\.zst)?)$/.exec(key);
  return m ? `${m[1]}${randomInt(10_000)}${m[2]}` : undefined;
}

/**
 * The push of every archive exporter: split the batch into objects by the layout, write each
 * whole (or not at all), then hand the written records, each with its location, to `next` when
 * the exporter is used as a connector.
 */
export function archiveExporter(
  s: CreateSettings<ExporterHelperConfig>,
  openStore: () => ObjectStore,
  opts: ArchiveOptions,
  next?: Consumer,
): Component & Consumer {
  let store: ObjectStore | undefined;
  const objects = s.metrics.counter('archive_objects', 'Objects written to long-term storage.');
  const bytes = s.metrics.counter('archive_bytes', 'Bytes written to long-term storage (after compression).');
  const handoff = s.metrics.counter('archive_handoff_failed', 'Archived records the connector could not hand to its pipelines.');
  const spec = opts.spec;
  const contentType = spec.format === 'otlp_json' ? 'application/json' : 'application/x-ndjson';

  return createExporter(s, {
    async start() {
      assertCompression(spec.compression);
      store = openStore();
      if (opts.writeManifest) await ensureManifest(store, spec);
    },
    async shutdown() {
      await store?.close?.();
    },
    async push(batch: RecordBatch, signal: AbortSignal) {
      const st = store!;
      const plan = planObjects(spec, batch);
      const written: RRRecord[] = [];
      const failures: ItemFailure[] = [];
      let firstErr: unknown;
      await eachLimit(plan, opts.parallel ?? 4, async (obj) => {
        const recs = obj.indexes.map((i) => batch[i]!);
        const order = encodedOrder(recs, spec.format);
        const ordered = order.map((i) => recs[i]!);
        const body = compress(encodeRecords(ordered, spec.format), spec.compression);
        let key = obj.key;
        try {
          for (let attempt = 0; ; attempt++) {
            if (signal.aborted) throw signal.reason ?? new Error('aborted');
            try {
              await st.put(key, body, { contentType, ifNoneMatch: spec.layout === 'otel_azure_blob' });
              break;
            } catch (err) {
              const other = err instanceof ObjectExistsError ? renamed(key) : undefined;
              if (!other || attempt >= 20) throw err;
              key = other;
            }
          }
        } catch (err) {
          firstErr ??= err;
          const retryable = isRetryable(err);
          for (const i of obj.indexes) failures.push({ index: i, reason: errorMessage(err), retryable });
          return;
        }
        objects.inc();
        bytes.inc({}, body.length);
        const uri = st.uri(key);
        ordered.forEach((r, i) => written.push({ ...r, location: `${uri}#${i + 1}` }));
      });
      if (next && written.length) {
        try {
          await next.consume(written, { signal });
        } catch (err) {
          // The records are archived; re-archiving them would duplicate objects. Rehydration can rebuild the index.
          handoff.inc({}, written.length);
          s.logger.error({ err: errorMessage(err), records: written.length }, 'archived records could not be handed to the connector pipelines');
        }
      }
      if (failures.length === batch.length) throw firstErr;
      if (failures.length) throw new PartialFailureError(failures);
    },
  });
}
