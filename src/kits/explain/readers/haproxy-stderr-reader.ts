import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { hasLevelTag, healthEvent, isAboutItself, isoPrefix } from './haproxy-health.ts';
import { haproxyReader } from './haproxy-reader.ts';

/** The time and the message of a `docker logs -t` line ("2026-11-21T13:11:05.612345678Z …"). */
function split(line: string): { time: number; message: string } | undefined {
  const stamp = isoPrefix(line);
  return stamp && { time: stamp.time, message: line.slice(stamp.rest) };
}

/**
 * What HAProxy writes on stderr ("[WARNING]  (18741) : Server be_app/s1 is DOWN, reason: …",
 * "[ALERT]    (18741) : backend 'be_app' has no server available!"), as `docker logs -t`
 * shows it: each line behind the RFC 3339 time the engine received it at. What a
 * `log stdout format raw` sends along is read too: the access log (option httplog, read as the
 * haproxy format reads it) and the same health messages untagged (each change counted once). HAProxy 2.x puts no time on stderr: a file of such lines alone is read
 * without a timeline, its health changes told in the order they came. Recorded from the real binary by
 * test/kits/explain/fixtures/record-haproxy-health.ts.
 */
export const haproxyStderrReader: LogReader = {
  format: 'haproxy-stderr',
  title: 'HAProxy stderr (docker logs -t)',
  sniff(line) {
    if (hasLevelTag(line)) return true;
    const stamped = split(line);
    return stamped !== undefined && (isAboutItself(stamped.message) || haproxyReader.sniff(stamped.message));
  },
  read(line): LogRecord | undefined {
    const stamped = split(line);
    // HAProxy 2.x's own stderr line, with no stamp: told in the order it came, with no time.
    if (stamped === undefined) return hasLevelTag(line) ? healthEvent(line, Number.NaN) : undefined;
    if (isAboutItself(stamped.message)) return healthEvent(stamped.message, stamped.time);
    // The request line carries its own accept date: the one that places it.
    return haproxyReader.read(stamped.message);
  },
  blindSpot:
    "HAProxy's stderr lines carry no time of their own: they are placed at the time docker (or journald) received them, and without such a stamp are told in the order they came, next to no request or storm (keep their times with `docker logs -t haproxy`, or `journalctl -u haproxy -o short-iso-precise`); its access log lines' dates have no zone (read as local time: set TZ to match).",
};
