import { pino, destination as pinoDestination, stdTimeFunctions, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout belongs to the debug exporter and CLI output).
 * `secrets` (the config's secret values) are replaced by [REDACTED] in every line written,
 * whatever field or error message carries them.
 */
export function createLogger(level: LevelWithSilent = 'info', destination: NodeJS.WritableStream | number = 2, secrets: ReadonlySet<string> = new Set()): Logger {
  const dest = typeof destination === 'number' ? pinoDestination({ fd: destination, sync: true }) : destination;
  const masked = [...secrets].filter((s) => s.length >= 4);
  return pino({
    level,
    base: { service: 'rrpipe' },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(masked.length ? { hooks: { streamWrite: (line: string) => scrub(line, masked) } } : {}),
  }, dest);
}

/** Replace each secret (as written, and as JSON-escaped) by [REDACTED]. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s).join('[REDACTED]');
    const json = JSON.stringify(s).slice(1, -1);
    if (json !== s) out = out.split(json).join('[REDACTED]');
  }
  return out;
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
