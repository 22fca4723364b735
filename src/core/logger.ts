import { pino, destination as pinoDestination, stdTimeFunctions, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr (stdout belongs to the debug exporter and CLI output). */
export function createLogger(level: LevelWithSilent = 'info', destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pinoDestination({ fd: destination, sync: true }) : destination;
  return pino({ level, base: { service: 'rrpipe' }, timestamp: stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, dest);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
