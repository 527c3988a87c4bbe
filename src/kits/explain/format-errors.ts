import { printable } from '../../core/printable.ts';
import { MIN_SHARE, SNIFF_LINES } from './detect-format.ts';
import type { LogReader } from './log-reader.ts';
import type { NumberedLine } from './log-record.ts';

/** A log explain will not report on: not in a format it reads, or too little of it is. */
export class LogFormatError extends Error {}

const QUOTE_CHARS = 160;
const percent = `${Math.round(MIN_SHARE * 100)}%`;

/** The lines a refusal quotes, cut short, their control characters escaped: a log must not drive the terminal. */
const quote = (lines: readonly NumberedLine[]) =>
  lines
    .map(
      (l) =>
        `  line ${l.line}: ${printable(l.text.length > QUOTE_CHARS ? `${l.text.slice(0, QUOTE_CHARS)}…` : l.text, true)}`,
    )
    .join('\n');

/** The formats explain reads, from the readers themselves (never a list typed twice). */
export function formatsList(readers: readonly LogReader[]): string {
  return `Formats explain reads: ${readers.map((r) => `${r.format} (${r.title})`).join(', ')}; any nginx log_format with --nginx-conf FILE or --log-format 'FORMAT', any HAProxy log-format with --haproxy-conf FILE or --log-format 'FORMAT'.`;
}

/** The keys of the first JSON objects among `lines`, or undefined if they are not JSON objects. */
function jsonKeys(lines: readonly NumberedLine[]): string[] | undefined {
  const keys = new Set<string>();
  let objects = 0;
  for (const { text } of lines) {
    if (!text.trimStart().startsWith('{')) continue;
    try {
      const value = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
      objects++;
      for (const key of Object.keys(value)) keys.add(key);
    } catch {}
  }
  return enoughLines(objects, lines.length) ? [...keys] : undefined;
}

const enoughLines = (n: number, of: number) => n > 0 && n >= Math.ceil(of * MIN_SHARE);

/** No reader recognises enough of a file's first lines. */
export function undetected(
  path: string,
  sample: readonly NumberedLine[],
  readers: readonly LogReader[],
  best: { reader: LogReader; hits: number } | undefined,
): LogFormatError {
  const keys = jsonKeys(sample);
  if (keys !== undefined) {
    const shown = keys.slice(0, 12).join(', ') + (keys.length > 12 ? ', …' : '');
    return new LogFormatError(
      `${path}: JSON lines, but not a format explain reads (keys seen: ${shown})\n${formatsList(readers)}`,
    );
  }
  const closest =
    best && best.hits > 0 ? ` (closest: ${best.reader.format}, ${best.hits} of ${sample.length} lines)` : '';
  const unread = best ? sample.filter((l) => !best.reader.sniff(l.text)) : sample;
  return new LogFormatError(
    `${path}: not a log format explain reads: no format reads ${percent} of its first ${Math.min(sample.length, SNIFF_LINES)} lines${closest}. Lines that did not parse:\n${quote(unread.slice(0, 5))}\n${formatsList(readers)}`,
  );
}

/** Too few of a file's lines are in the format it was read as (forced, or detected from its first lines). */
export function tooFew(
  path: string,
  reader: LogReader,
  parsed: number,
  lines: number,
  where: string,
  unread: readonly NumberedLine[],
  readers: readonly LogReader[],
): LogFormatError {
  return new LogFormatError(
    `${path}: only ${parsed} of ${where} ${lines} lines are ${reader.format} (${reader.title}); explain needs ${percent}. Lines that did not parse:\n${quote(unread)}\n${formatsList(readers)}`,
  );
}
