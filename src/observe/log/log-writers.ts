import type { LogConfig } from '../../core/config/types.ts';
import type { GatewayName } from './gateway-name.ts';
import { LineWriter } from './line-writer.ts';

/**
 * The log writers of this process, whoever writes through them: the workers' pino logger
 * (logger.ts) and the cluster primary's own (primary-log.ts). Here, not in logger.ts, so that
 * the primary opens, flushes and reopens its file as a worker does without loading pino.
 */

/** Log bytes kept waiting for the disk before lines are dropped (and counted). */
const MAX_BACKLOG = 32 * 1024 * 1024;

/**
 * Every writer made in this process, for SIGUSR1's reopen and the last synchronous flush when
 * the process exits (its handler is installed with the first writer, not when this module is
 * imported: a program that only imports the library gets no handler of ours).
 */
const writers = new Set<LineWriter>();

function flushAll(): void {
  for (const writer of writers) writer.flushSync();
}

/**
 * A batching writer (line-writer.ts) on the config's destination: a file gets one write per
 * event-loop turn, a pipe is written asynchronously so a slow reader never blocks the request
 * path, and neither grows memory without bound. Flushed when the process exits. `gateway`: the
 * box of its logger's lines, so that the writer's own lines follow a reload's rename too.
 */
export function openLogWriter(
  destination: LogConfig['destination'],
  gateway: Readonly<GatewayName>,
): LineWriter {
  const writer =
    destination === 'stdout' || destination === 'stderr'
      ? new LineWriter(destination === 'stdout' ? 1 : 2, MAX_BACKLOG, gateway)
      : LineWriter.open(destination, MAX_BACKLOG, gateway);
  if (writers.size === 0) process.once('exit', flushAll);
  writers.add(writer);
  return writer;
}

/**
 * Lines the writers of this process dropped: the cluster primary's own (its event lines, a
 * worker's death), which it adds to the workers' candor_log_lines_dropped_total.
 */
export function linesDroppedHere(): number {
  let dropped = 0;
  for (const writer of writers) dropped += writer.linesDropped;
  return dropped;
}

/**
 * SIGUSR1 (logrotate moved or truncated the file): every log file is opened again at its path,
 * and the line saying so, or why not, is the first in it; stdout and stderr are left alone.
 */
export function reopenLogFiles(logger: {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}): void {
  // Every file first: the lines that say so go to the new files.
  for (const reopened of [...writers].flatMap((writer) => writer.reopen() ?? [])) {
    if ('error' in reopened)
      logger.error({ file: reopened.file, err: reopened.error }, 'could not reopen the log file');
    else logger.info({ file: reopened.file }, 'reopened the log file');
  }
}

/** After a child was started with this process's stdout and stderr (LineWriter.keepNonBlocking). */
export function keepStdioNonBlocking(): void {
  for (const writer of writers) writer.keepNonBlocking();
}

/** How long the longest write(2) of this process's writers has been in the kernel (LineWriter.inKernelFor). */
export function logWriteInKernelFor(): number | undefined {
  let longest: number | undefined;
  for (const writer of writers) {
    const ms = writer.inKernelFor;
    if (ms !== undefined && (longest === undefined || ms > longest)) longest = ms;
  }
  return longest;
}
