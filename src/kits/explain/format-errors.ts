import { printable } from '../../core/printable.ts';
import { MIN_SHARE, SNIFF_LINES } from './detect-format.ts';
import type { LogReader } from './log-reader.ts';
import type { NumberedLine } from './log-record.ts';
import { COMBINED_LINE } from './readers/nginx-access-reader.ts';
import { COMBINED } from './readers/nginx-log-format.ts';

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

/**
 * Lines in nginx's combined format followed by values without names (`… "curl/8" 502 0.001
 * 127.0.0.1:27100 0.000`, a log_format that appends $upstream_status and timings), which no
 * format detects: said as that, with a --log-format that reads them, each value named from its
 * shape. Without it the refusal listed formats, none of which names this shape's way in.
 */
function combinedWithValues(lines: readonly NumberedLine[]): string | undefined {
  let first: string | undefined;
  let hits = 0;
  for (const { text } of lines) {
    const m = COMBINED_LINE.exec(text);
    const tail = m === null ? '' : text.slice(m[0].length);
    if (!/^ \S/.test(tail)) continue;
    hits++;
    first ??= tail.slice(1);
  }
  if (first === undefined || !enoughLines(hits, lines.length)) return undefined;
  const values = first.match(/"[^"]*"|\S+/g) ?? [];
  const times = ['request_time', 'upstream_response_time', 'upstream_connect_time', 'upstream_header_time'];
  const used = new Set<string>();
  const named = values.map((value, i) => {
    const quoted = value.startsWith('"');
    let name = `value_${i + 1}`;
    if (/^[1-5]\d\d$/.test(value)) name = 'upstream_status';
    else if (/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d+$|^unix:/.test(value))
      name = 'upstream_addr';
    else if (/^\d+\.\d{3}$/.test(value)) name = times.find((t) => !used.has(t)) ?? name;
    if (used.has(name)) name = `value_${i + 1}`;
    used.add(name);
    return quoted ? `"$${name}"` : `$${name}`;
  });
  const shown = first.length > QUOTE_CHARS ? `${first.slice(0, QUOTE_CHARS)}…` : first;
  return `These lines are nginx's combined format followed by ${values.length} value${values.length === 1 ? '' : 's'} of a log_format of your own (${printable(shown, true)}): give explain that log_format with --nginx-conf FILE, or as --log-format 'FORMAT'. Named from their shape (check them against yours): --log-format '${COMBINED.text} ${named.join(' ')}'`;
}

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
  const hint = combinedWithValues(sample);
  return new LogFormatError(
    `${path}: not a log format explain reads: no format reads ${percent} of its first ${Math.min(sample.length, SNIFF_LINES)} lines${closest}. Lines that did not parse:\n${quote(unread.slice(0, 5))}\n${hint === undefined ? '' : `${hint}\n`}${formatsList(readers)}`,
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
