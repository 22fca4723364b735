import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { Telemetry } from '../../src/core/telemetry.js';
import { createExporter, type ExporterHelperConfig } from '../../src/helpers/exporter.js';
import { newRecord } from '../../src/core/record.js';
import { testHost, tmp } from '../support/index.js';

describe('exporter helper: rrpipe_exporter_send_duration_seconds', () => {
  it('observes every push attempt by outcome, with the time the push took', async () => {
    const telemetry = new Telemetry({ processMetrics: false });
    let calls = 0;
    const config: ExporterHelperConfig = {
      timeout: 5000,
      retry_on_failure: { enabled: true, initial_interval: 10, max_interval: 10, max_elapsed_time: 10_000, multiplier: 1, randomization_factor: 0 },
      sending_queue: { enabled: false, num_consumers: 1, queue_size: 10, sizer: 'requests', block_on_overflow: false },
    };
    const exp = createExporter({ id: 'slow', kind: 'exporter', config, logger: silentLogger(), metrics: telemetry.forComponent('slow', 'exporter', 'logs'), configDir: '.' }, {
      async push() {
        calls++;
        await new Promise((r) => setTimeout(r, 60));
        if (calls === 1) throw new RetryableError('first attempt fails');
      },
    });
    await exp.start(testHost(tmp('rrpipe-lat-')));
    await exp.consume([newRecord({ ts: '2024-01-01T00:00:00Z' } as never)], {});
    await exp.shutdown(AbortSignal.timeout(1000));
    const m = await telemetry.registry.getSingleMetricAsString('rrpipe_exporter_send_duration_seconds');
    const count = (outcome: string) => Number(new RegExp(`rrpipe_exporter_send_duration_seconds_count\\{[^}]*component="slow"[^}]*outcome="${outcome}"[^}]*\\} (\\S+)`).exec(m)?.[1]);
    const sum = (outcome: string) => Number(new RegExp(`rrpipe_exporter_send_duration_seconds_sum\\{[^}]*outcome="${outcome}"[^}]*\\} (\\S+)`).exec(m)?.[1]);
    expect(count('failed')).toBe(1);
    expect(count('sent')).toBe(1);
    // Each push slept 60 ms: its observation is at least that (the timer cannot run early by more than a millisecond).
    expect(sum('failed')).toBeGreaterThanOrEqual(0.059);
    expect(sum('sent')).toBeGreaterThanOrEqual(0.059);
    expect(m).toMatch(/rrpipe_exporter_send_duration_seconds_bucket\{le="0.05",[^}]*outcome="sent"[^}]*\} 0/);
  });
});
