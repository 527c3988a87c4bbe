import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { hasLevelTag, healthEvent, isOwnMessage, isoPrefix } from './haproxy-health.ts';
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
 * haproxy format reads it) and the same health messages untagged (each change counted once). HAProxy 2.x puts no time on stderr: a file of such lines alone cannot be placed
 * on a timeline, and is refused. Recorded from the real binary by
 * test/kits/explain/fixtures/record-haproxy-health.ts.
 */
export const haproxyStderrReader: LogReader = {
  format: 'haproxy-stderr',
  title: 'HAProxy stderr (docker logs -t)',
  sniff(line) {
    if (hasLevelTag(line)) return true;
    const stamped = split(line);
    return stamped !== undefined && (isOwnMessage(stamped.message) || haproxyReader.sniff(stamped.message));
  },
  read(line): LogRecord | undefined {
    const stamped = split(line);
    if (stamped === undefined) return undefined;
    if (isOwnMessage(stamped.message)) return healthEvent(stamped.message, stamped.time);
    // The request line carries its own accept date: the one that places it.
    return haproxyReader.read(stamped.message);
  },
  refuse(sample) {
    if (sample.some((line) => isoPrefix(line) !== undefined)) return undefined;
    return 'HAProxy writes no time on stderr, so these lines cannot be placed next to the access log: save them with their times (`docker logs -t haproxy`, or `journalctl -u haproxy -o short-iso-precise`) and give that file';
  },
  blindSpot:
    "HAProxy's stderr lines carry no time of their own: they are placed at the time docker (or journald) received them; its access log lines' dates have no zone (read as local time: set TZ to match).",
};
