import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { bsdPrefix, healthEvent, isAboutItself, isoPrefix } from './haproxy-health.ts';

/** The message of a line, behind a docker -t, journald or syslog stamp or not, and its time if stamped. */
function split(line: string): { time: number; message: string } {
  const stamp = isoPrefix(line) ?? bsdPrefix(line);
  if (stamp === undefined) return { time: Number.NaN, message: line };
  const message = line.slice(stamp.rest);
  const tag = message.indexOf(']: ');
  return { time: stamp.time, message: tag !== -1 && tag < 120 ? message.slice(tag + 3) : message };
}

/**
 * HAProxy's health lines alone, from a file whose other lines no format explain knows reads
 * (its access lines in a `log-format` of their own, given neither by --haproxy-conf nor by
 * --log-format). Not a detected format: read-logs.ts falls back to it, rather than refuse the
 * file, when the file's first lines hold a health line; the health story is told, and the
 * lines left unread are counted, quoted, and `partial` says how to read them.
 */
export const haproxyHealthReader: LogReader = {
  format: 'haproxy-health',
  title: "HAProxy's health lines (its other lines not read)",
  sniff: (line) => isAboutItself(split(line).message),
  read(line): LogRecord | undefined {
    const { time, message } = split(line);
    return isAboutItself(message) ? healthEvent(message, time) : undefined;
  },
  partial:
    "if they are HAProxy's access lines in a log-format of their own, give HAProxy's config with --haproxy-conf FILE (or the format with --log-format 'FORMAT') to read them",
  blindSpot:
    "only HAProxy's health lines were read from it (no format explain knows reads its other lines): no requests, statuses or storms come from it.",
};
