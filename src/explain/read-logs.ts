import { AttemptMatcher } from './attempt-matcher.ts';
import { detectFormat, readerFor, SNIFF_LINES } from './detect-format.ts';
import { openLines } from './line-stream.ts';
import { LogCursor } from './log-cursor.ts';
import type { LogRecord } from './log-record.ts';
import { startProgress } from './progress.ts';
import { Tally } from './tally.ts';

export interface ReadOptions {
  /** Skip detection: read every file as this format. */
  readonly format?: string;
  /** Storm bucket size; adaptive when absent. */
  readonly bucketMs?: number;
  /** Draw a progress bar on stderr (only when it is a terminal; default true). */
  readonly progress?: boolean;
}

export interface FileRead {
  readonly path: string;
  readonly format: string;
  readonly title: string;
  readonly gzip: boolean;
  readonly bytes: number;
  readonly lines: number;
  readonly records: number;
}

export class LogFormatError extends Error {}

/**
 * Reads every file once, streaming, in time order across files (so an nginx error-log line
 * meets its access-log line), into one Tally.
 */
export async function readLogs(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<{ tally: Tally; files: FileRead[] }> {
  const cursors: LogCursor[] = [];
  for (const path of paths) {
    const source = await openLines(path);
    const batches = source.batches();
    const first: string[] = [];
    // Detection looks at the first lines; the batches they came in are parsed as usual after.
    while (first.filter((l) => l.trim() !== '').length < SNIFF_LINES) {
      const batch = await batches.next();
      if (batch.done) break;
      first.push(...batch.value);
    }
    const sample = first.filter((l) => l.trim() !== '').slice(0, SNIFF_LINES);
    const reader = options.format ? readerFor(options.format) : detectFormat(sample);
    if (reader === undefined) {
      throw new LogFormatError(
        options.format
          ? `unknown format "${options.format}"`
          : `${path}: not a log format explain reads (Candor JSON, nginx combined access or error log, HAProxy httplog); try --format`,
      );
    }
    const refusal = reader.refuse?.(sample);
    if (refusal !== undefined) throw new LogFormatError(`${path}: ${refusal}`);
    cursors.push(new LogCursor(source, reader, batches, first));
  }
  const formats = new Set(cursors.map((c) => c.reader.format));
  for (const cursor of cursors) {
    const causesIn = cursor.reader.causesIn;
    cursor.causeKnown = causesIn === undefined || formats.has(causesIn);
  }

  const tally = new Tally(options.bucketMs);
  const matcher = new AttemptMatcher((attempt) => tally.addAttempt(attempt));
  const total = cursors.reduce((sum, c) => sum + c.source.size, 0);
  const progress =
    options.progress === false
      ? { stop() {} }
      : startProgress(() => {
          const bytes = cursors.reduce((sum, c) => sum + c.source.bytesRead(), 0);
          const left = (c: LogCursor) => (c.finished ? -1 : c.source.size - c.source.bytesRead());
          const reading = cursors.reduce((a, b) => (left(b) > left(a) ? b : a), cursors[0]);
          return { bytes, total, file: reading?.source.path ?? '' };
        });
  try {
    await Promise.all(cursors.map((c) => c.ready()));
    let live = cursors.filter((c) => c.head !== undefined);
    while (live.length > 0) {
      let best = live[0];
      let head = best.head as LogRecord;
      for (let i = 1; i < live.length; i++) {
        const other = live[i].head as LogRecord;
        // On a tie the attempt goes first: nginx writes the error line before the access line.
        if (other.time < head.time || (other.time === head.time && other.kind === 'attempt')) {
          best = live[i];
          head = other;
        }
      }
      if (matcher.size > 0) matcher.expire(head.time);
      if (head.kind === 'health') tally.addHealth(head);
      else if (head.kind === 'attempt') matcher.add(head);
      else tally.addRequest(matcher.size > 0 ? matcher.claim(head) : head, best.causeKnown);
      const more = best.next();
      if (more !== undefined) {
        await more;
        if (best.head === undefined) live = live.filter((c) => c !== best);
      }
    }
    matcher.expire();
  } finally {
    progress.stop();
  }
  const files = cursors.map((c) => ({
    path: c.source.path,
    format: c.reader.format,
    title: c.reader.title,
    gzip: c.source.gzip,
    bytes: c.source.size,
    lines: c.lines,
    records: c.records,
  }));
  return { tally, files };
}
