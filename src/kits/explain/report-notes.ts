/** The notes a report ends with: the formats' blind spots, and what the files read may have hidden. */
import { readerFor } from './detect-format.ts';
import type { LogReader } from './log-reader.ts';
import type { FileRead } from './read-logs.ts';
import type { Tally } from './tally.ts';

/** An instant as the report writes it. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** What the reader should know before trusting the counts: each a sentence or two. */
export function reportNotes(
  tally: Tally,
  files: readonly FileRead[],
  readers: readonly LogReader[],
): string[] {
  const formats = [...new Set(files.map((f) => f.format))];
  const notes = formats
    .map((format) => readerFor(format, readers)?.blindSpot)
    .filter((note): note is string => note !== undefined);
  if (tally.changeLines > tally.changes.length)
    notes.push(
      `${tally.changeLines} change lines (Candor's event lines) were read and the first ${tally.changes.length} kept: a storm after ${iso(tally.changes.at(-1)?.time ?? 0)} may be placed after an earlier change than its own. Read fewer days at a time.`,
    );
  const causeNote = unjoinedCauses(tally, files, readers);
  if (causeNote !== undefined) notes.push(causeNote);
  for (const file of files) {
    const partial = readerFor(file.format, readers)?.partial;
    if (partial !== undefined && file.skipped > 0) {
      const quoted = (file.unread ?? [])
        .map((l) => `\n      line ${l.line}: ${l.text.slice(0, 160)}`)
        .join('');
      notes.push(`${file.path}: ${file.skipped} lines not read; ${partial}. The first of them:${quoted}`);
    } else if (file.skipped > 0 && file.unread !== undefined && file.unread.length > 0) {
      const quoted = file.unread.map((l) => `\n      line ${l.line}: ${l.text.slice(0, 160)}`).join('');
      const lines = file.skipped === 1 ? '1 line' : `${file.skipped} lines`;
      notes.push(`${file.path}: ${lines} not read as ${file.format}. The first of them:${quoted}`);
    }
  }
  for (const file of files)
    if (file.stepsBack > 0)
      notes.push(
        `${file.path} is not in time order: ${file.stepsBack} of its records are over an hour older than one before them (the first at line ${file.firstStepBack}). Rotated logs concatenated newest first? explain reads each file in time order, so error lines and requests on either side may not meet: give the rotated files as separate arguments (gzipped ones too).`,
      );
  return notes;
}

/** How the local zone, in which zone-less dates are read, is called here: "TZ=UTC, UTC+00:00". */
function localZone(): string {
  const offset = -new Date().getTimezoneOffset();
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
  const minutes = String(Math.abs(offset) % 60).padStart(2, '0');
  const name = process.env.TZ ? `TZ=${process.env.TZ}` : 'the local zone';
  return `${name}, UTC${offset < 0 ? '-' : '+'}${hours}:${minutes}`;
}

/**
 * A note when a file of causes (an error log) was read with records, yet none of them met a
 * request while 5xx were left without a cause: most often its dates, which carry no zone, were
 * read in another zone than the one they were written in, and every join missed.
 */
function unjoinedCauses(
  tally: Tally,
  files: readonly FileRead[],
  readers: readonly LogReader[],
): string | undefined {
  // Lines without a time are never joined (their format's blind spot says so): not a zone's doing.
  if (tally.joinedAttempts > 0 || tally.unexplained5xx === 0 || tally.untimed > 0) return undefined;
  const causeFormats = new Set(
    files.map((f) => readerFor(f.format, readers)?.causesIn).filter((f): f is string => f !== undefined),
  );
  const causes = files.filter((f) => causeFormats.has(f.format) && f.records > 0);
  if (causes.length === 0) return undefined;
  const lines = causes.reduce((sum, f) => sum + f.records, 0);
  return `None of the ${lines} failure lines of ${causes.map((f) => f.path).join(', ')} met a request, and ${tally.unexplained5xx} 5xx have no cause. Their dates carry no zone and were read in ${localZone()}: if the machine that wrote them was in another zone, set TZ to it and run again; otherwise the files may not cover the same time.`;
}
