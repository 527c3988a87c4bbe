import pino from 'pino';
import type { LogConfig } from '../../core/config/types.ts';
import { LineWriter } from './line-writer.ts';

/** Where a logger's lines go: the access log writes its own lines there too (access-log.ts). */
export interface LineSink {
  write(line: string): unknown;
  /** Lines dropped so far (a LineWriter counts them; a test's capture drops none). */
  readonly linesDropped?: number;
}

/** The key of a logger's sink: Candor's own symbol, set by the functions below. */
export const LINE_SINK: unique symbol = Symbol('candor.lineSink');

/** The gateway's logger: pino for its event lines, and the sink those lines and the access log's go to. */
export type Logger = pino.Logger & { readonly [LINE_SINK]: LineSink };

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
  return createLoggerOn(writer, config.level, gatewayName);
}

/**
 * A logger writing NDJSON lines to `sink` (a LineWriter, or a test's capture): every line
 * carries the level's name, an ISO time and the gateway's name.
 */
export function createLoggerOn(sink: LineSink, level: LogConfig['level'], gatewayName: string): Logger {
  const logger = pino(
    {
      level,
      base: { gateway: gatewayName },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  return Object.assign(logger, { [LINE_SINK]: sink });
}
