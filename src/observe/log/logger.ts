import pino, { type Logger } from 'pino';
import type { LogConfig } from '../../core/config/types.ts';
import { LineWriter } from './line-writer.ts';

export type { Logger } from 'pino';

/** Log bytes kept waiting for the disk before lines are dropped (and counted). */
const MAX_BACKLOG = 32 * 1024 * 1024;

/**
 * Every writer made in this process, for SIGUSR1's reopen and the last synchronous flush when
 * the process exits (its handler is installed with the first writer, not when this module is
 * imported: a program that only imports the library gets no handler of ours).
 */
const writers = new Set<LineWriter>();

function remember(writer: LineWriter): void {
  if (writers.size === 0) process.once('exit', flushAll);
  writers.add(writer);
}

function flushAll(): void {
  for (const writer of writers) writer.flushSync();
}

/**
 * Opens every log file again at its path (SIGUSR1: logrotate moved or truncated it).
 * What each reopen did, for the log line that reports it; stdout and stderr are left alone.
 */
export function reopenLogFiles(): ({ file: string } | { file: string; error: Error })[] {
  return [...writers].flatMap((writer) => writer.reopen() ?? []);
}

/**
 * The gateway's logger: NDJSON through a batching writer (line-writer.ts): a file gets one
 * write per event-loop turn, a pipe is written asynchronously so a slow reader never blocks
 * the request path, and neither grows memory without bound. `flush()` before exit keeps the
 * last lines.
 */
export function createLogger(config: LogConfig, gatewayName: string): Logger {
  const writer =
    config.destination === 'stdout' || config.destination === 'stderr'
      ? new LineWriter(config.destination === 'stdout' ? 1 : 2, MAX_BACKLOG, gatewayName)
      : LineWriter.open(config.destination, MAX_BACKLOG, gatewayName);
  remember(writer);
  return pino(
    {
      level: config.level,
      base: { gateway: gatewayName },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    writer,
  );
}
