import { AttemptMatcher } from './attempt-matcher.ts';
import { bestFormat, enoughOf, READERS, SNIFF_LINES, sniffed } from './detect-format.ts';
import { LogFormatError, tooFew, undetected } from './format-errors.ts';
import { openLines } from './line-stream.ts';
import { LogCursor, SKIPPED_QUOTED } from './log-cursor.ts';
import type { LogReader } from './log-reader.ts';
import type { FiveXxSplit, LogRecord, NumberedLine } from './log-record.ts';
import { startProgress } from './progress.ts';
import { haproxyHealthReader } from './readers/haproxy-health-reader.ts';
import { Tally } from './tally.ts';

interface ReadOptions {
  /** Skip detection: read every file as this format. */
  readonly format?: string;
  /** Storm bucket size; adaptive when absent. */
  readonly bucketMs?: number;
  /** Draw a progress bar on stderr (only when it is a terminal; default true). */
  readonly progress?: boolean;
  /**
   * Formats to try on a file before the built-in ones, best first (the nginx log_formats of
   * --nginx-conf or --log-format).
   */
  readonly readersFor?: (path: string) => readonly LogReader[];
}

export interface FileRead {
  readonly path: string;
  readonly format: string;
  readonly title: string;
  readonly gzip: boolean;
  readonly bytes: number;
  /** Non-blank lines read. */
  readonly lines: number;
  /** Lines written in the format (those that hold a request or an attempt, and the others). */
  readonly parsed: number;
  /** Lines not written in the format (at most 1 - MIN_SHARE of them, or the file is refused). */
  readonly skipped: number;
  /** Of those, lines longer than MAX_LINE: skipped unread. */
  readonly tooLong: number;
  readonly records: number;
  readonly errors5xx: FiveXxSplit;
  /** Records more than an hour older than the latest before them: the file is out of time order. */
  readonly stepsBack: number;
  /** The line of the first of them. */
  readonly firstStepBack?: number;
  /** A file read in part (LogReader.partial): the first lines left unread, quoted in the report. */
  readonly unread?: readonly NumberedLine[];
}

export { LogFormatError };

/** A reader for a file with no lines: it has none to read or to count. */
const EMPTY: LogReader = { format: 'empty', title: 'empty file', sniff: () => false, read: () => undefined };

/**
 * Reads every file once, streaming, in time order across files (so an nginx error-log line
 * meets its access-log line), into one Tally.
 */
export async function readLogs(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<{ tally: Tally; files: FileRead[]; readers: LogReader[] }> {
  const cursors: LogCursor[] = [];
  const used = new Map<string, LogReader>();
  for (const path of paths) {
    const cursor = await openCursor(path, options);
    used.set(cursor.reader.format, cursor.reader);
    cursors.push(cursor);
  }
  const formats = new Set(cursors.map((c) => c.reader.format));
  for (const cursor of cursors) {
    const causesIn = cursor.reader.causesIn;
    cursor.causeKnown = causesIn === undefined || formats.has(causesIn);
  }

  const tally = new Tally(options.bucketMs);
  const progress = options.progress === false ? { stop() {} } : showProgress(cursors);
  try {
    await readInTimeOrder(cursors, tally);
  } finally {
    progress.stop();
  }
  for (const c of cursors) {
    // Never silent: a file mostly not in its format is refused, not reported on in part.
    if (c.reader !== EMPTY && c.reader.partial === undefined && !enoughOf(c.parsed, c.lines))
      throw tooFew(c.source.path, c.reader, c.parsed, c.lines, 'its', c.skippedLines, [
        ...READERS,
        ...[...used.values()].filter((r) => !READERS.includes(r) && r !== EMPTY),
      ]);
  }
  return { tally, files: cursors.map(fileRead), readers: [...used.values()] };
}

/** A file opened, its format detected from its first lines (or forced), ready to be read. */
async function openCursor(path: string, options: ReadOptions): Promise<LogCursor> {
  const source = await openLines(path);
  const batches = source.batches();
  const first: Array<string | null> = [];
  // Detection looks at the first lines; the batches they came in are parsed as usual after.
  const sample: NumberedLine[] = [];
  while (sample.length < SNIFF_LINES) {
    const batch = await batches.next();
    if (batch.done) break;
    for (const text of batch.value) {
      first.push(text);
      // A line over MAX_LINE is not read, so it says nothing of the format either.
      if (text !== null && text.trim() !== '' && sample.length < SNIFF_LINES)
        sample.push({ line: first.length, text });
    }
  }
  const readers = [...(options.readersFor?.(path) ?? []), ...READERS];
  const reader = sample.length === 0 ? EMPTY : pick(path, sample, readers, options.format);
  const refusal = reader.refuse?.(sample.map((s) => s.text));
  if (refusal !== undefined) throw new LogFormatError(`${path}: ${refusal}`);
  return new LogCursor(source, reader, batches, first);
}

/** A progress bar on stderr: the bytes read of them all, and the file with the most left. */
function showProgress(cursors: readonly LogCursor[]): { stop(): void } {
  const total = cursors.reduce((sum, c) => sum + c.source.size, 0);
  return startProgress(() => {
    const bytes = cursors.reduce((sum, c) => sum + c.source.bytesRead(), 0);
    const left = (c: LogCursor) => (c.finished ? -1 : c.source.size - c.source.bytesRead());
    const reading = cursors.reduce((a, b) => (left(b) > left(a) ? b : a), cursors[0]);
    return { bytes, total, file: reading?.source.path ?? '' };
  });
}

/** Every file's records into the tally, the earliest head first; attempts joined to their requests. */
async function readInTimeOrder(cursors: readonly LogCursor[], tally: Tally): Promise<void> {
  const matcher = new AttemptMatcher((attempt) => tally.addAttempt(attempt));
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
    // A record without a time (LogRecord.time) is on no timeline: it neither moves the join's
    // window nor joins, and the upstream's word on its 5xx cannot be checked against the error log.
    const untimed = Number.isNaN(head.time);
    if (matcher.size > 0 && !untimed) matcher.expire(head.time);
    if (head.kind === 'health') tally.addHealth(head);
    else if (head.kind === 'change') {
      if (!untimed) tally.addChange(head);
    } else if (head.kind === 'attempt') matcher.add(head);
    else if (untimed) tally.addRequest(head, !best.reader.causesIn, best.errors5xx);
    else tally.addRequest(matcher.size > 0 ? matcher.claim(head) : head, best.causeKnown, best.errors5xx);
    const more = best.next();
    if (more !== undefined) {
      await more;
      if (best.head === undefined) live = live.filter((c) => c !== best);
    }
  }
  matcher.expire();
  tally.joinedAttempts = matcher.joined;
}

/** What the report says of one file read. */
function fileRead(c: LogCursor): FileRead {
  return {
    path: c.source.path,
    format: c.reader.format,
    title: c.reader.title,
    gzip: c.source.gzip,
    bytes: c.source.size,
    lines: c.lines,
    parsed: c.parsed,
    skipped: c.skipped,
    tooLong: c.tooLong,
    records: c.records,
    errors5xx: c.errors5xx,
    stepsBack: c.stepsBack,
    ...(c.firstStepBack === undefined ? {} : { firstStepBack: c.firstStepBack }),
    // Quoted whenever lines were left unread (up to the 10% a file may hold): counted alone,
    // the lines of another format beside it (an HAProxy tcplog frontend's) went unseen.
    ...(c.reader.partial === undefined && c.skippedLines.length === 0 ? {} : { unread: c.skippedLines }),
  };
}

/** The reader for a file: the forced format, or the one detected; an error when too few lines fit. */
function pick(
  path: string,
  sample: readonly NumberedLine[],
  readers: readonly LogReader[],
  forced: string | undefined,
): LogReader {
  const texts = sample.map((l) => l.text);
  if (forced !== undefined) {
    const reader = readers.find((r) => r.format === forced);
    if (reader === undefined) throw new LogFormatError(`unknown format "${forced}"`);
    const hits = sniffed(reader, texts);
    if (!enoughOf(hits, texts.length)) {
      const unread = sample.filter((l) => !reader.sniff(l.text)).slice(0, SKIPPED_QUOTED);
      throw tooFew(path, reader, hits, texts.length, 'its first', unread, readers);
    }
    return reader;
  }
  const best = bestFormat(texts, readers);
  if (best === undefined || !enoughOf(best.hits, texts.length)) {
    // Lines no format reads, among them HAProxy's own about its servers: its health story is
    // told from those, and the rest are quoted with how to read them (never silent).
    if (sniffed(haproxyHealthReader, texts) > 0) return haproxyHealthReader;
    throw undetected(path, sample, readers, best);
  }
  return best.reader;
}
