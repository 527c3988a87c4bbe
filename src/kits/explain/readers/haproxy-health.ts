import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { HealthEvent } from '../log-record.ts';
import { localTime, monthIndex } from '../log-time.ts';

/**
 * HAProxy's own messages about its servers' health, the same text wherever they go (stderr,
 * its syslog target, journald): "Server be_app/s1 is DOWN, reason: Layer4 connection problem,
 * info: "Connection refused", check duration: 0ms. …", "backend 'be_app' has no server
 * available!". Worded after HAProxy 2.6's src/server.c and src/check.c messages, recorded from
 * the real binary by test/kits/explain/fixtures/record-haproxy-health.ts.
 */

// "[WARNING]  (18741) : " (2.x), "[WARNING] 324/131105 (18741) : " (1.x, a day-of-year date).
const LEVEL = /^\[(?:NOTICE|WARNING|ALERT|DEBUG|INFO|ERR|EMERG|CRIT)\] +(?:\d+\/\d+ )?\(\d+\) : /;
const SERVER = /^Server ([^/\s]+)\/(\S+?) is (UP|DOWN)\b(.*)$/;
const NO_SERVER = /^(?:backend|proxy) '?([^'\s]+)'? has no server available!/;
const REASON = /, reason: ([^,]+)/;
const CODE = /, code: (\d+)/;
const INFO = /, info: "([^"]*)"/;
const CHECK = /, check duration: (\d+)ms/;

/** Whether a message starts with HAProxy's stderr level tag ("[WARNING]  (18741) : "). */
export const hasLevelTag = (text: string): boolean => LEVEL.test(text);

// What HAProxy sends its log targets about itself, untagged: state changes, stops and starts.
const ABOUT_ITSELF =
  /^(?:Server [^/\s]+\/\S+ |(?:backend|proxy) '?[^'\s]+'? has no server available!|Proxy \S+ (?:started|stopped|paused|resumed)|Health check for (?:backup )?server |Stopping (?:frontend|backend|proxy) )/;

/** Whether a message is one of HAProxy's own (tagged on stderr, or as its log targets get it). */
export const isAboutItself = (text: string): boolean => LEVEL.test(text) || ABOUT_ITSELF.test(text);

/**
 * HAProxy writes each state change twice when it runs in the foreground with a log target on
 * the same stream (stderr with the level tag, the log target without): the second copy, within
 * a second, is the same event.
 */
const recent: Array<{ key: string; tagged: boolean; time: number }> = [];
function duplicate(event: HealthEvent, tagged: boolean): boolean {
  const key = `${event.state} ${event.target ?? event.upstream} ${event.reason}`;
  // Untimed copies (stderr and stdout read raw) are told apart from a new change by coming
  // next to each other: only the last few are kept.
  const near = (time: number) =>
    Number.isNaN(time) && Number.isNaN(event.time) ? true : Math.abs(time - event.time) <= 1000;
  const twin = recent.findIndex((r) => r.key === key && r.tagged !== tagged && near(r.time));
  if (twin !== -1) {
    recent.splice(twin, 1);
    return true;
  }
  recent.push({ key, tagged, time: event.time });
  if (recent.length > 16) recent.shift();
  return false;
}

/**
 * The failure a failed check stands for, where the reason says it for certain: a refused or
 * timed-out connect, a response head that never came, a TLS handshake that failed. "Layer7
 * wrong status" is none: the app answered, and said it was unhealthy.
 */
function checkFailure(reason: string, info: string | undefined): FailureType | undefined {
  if (reason.startsWith('Layer4 connection problem')) {
    if (info === 'Connection refused') return 'connection_refused';
    if (info === 'No route to host' || info === 'Network is unreachable') return 'destination_ip_unroutable';
    return undefined;
  }
  if (reason === 'Layer4 timeout') return 'connection_timeout';
  if (reason === 'Layer7 timeout') return 'http_response_timeout';
  if (reason === 'Layer7 invalid response') return 'http_protocol_error';
  if (reason === 'Layer6 invalid response') return 'tls_protocol_error';
  return undefined;
}

/**
 * The health event a message holds (its time given by the line's header), or undefined for any
 * other message (startup notices, "Health check for server … failed" between state changes).
 */
export function healthEvent(message: string, time: number): HealthEvent | undefined {
  const text = message.replace(LEVEL, '');
  const event = parse(text, time);
  return event === undefined || duplicate(event, text !== message) ? undefined : event;
}

function parse(text: string, time: number): HealthEvent | undefined {
  const server = SERVER.exec(text);
  if (server) {
    const [, backend, name, state, rest] = server;
    const reason = REASON.exec(rest)?.[1];
    const code = CODE.exec(rest)?.[1];
    const info = INFO.exec(rest)?.[1];
    const check = CHECK.exec(rest)?.[1];
    const detail = [code, info].filter((part) => part !== undefined && part !== '').join(' ');
    return {
      kind: 'health',
      time,
      upstream: backend,
      target: `${backend}/${name}`,
      state: state === 'UP' ? 'up' : 'down',
      reason: reason === undefined ? undefined : detail ? `${reason} (${detail})` : reason,
      checkMs: check === undefined ? undefined : Number(check),
      failure: state === 'DOWN' && reason !== undefined ? checkFailure(reason, info) : undefined,
    };
  }
  const none = NO_SERVER.exec(text);
  if (none) {
    return {
      kind: 'health',
      time,
      upstream: none[1],
      state: 'no-server',
      reason: 'no server available',
      failure: 'destination_unavailable',
    };
  }
  return undefined;
}

// Docker's `--timestamps` (RFC 3339, nanoseconds, UTC) and journald's short-iso(-precise).
const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d) /;
// Syslog (RFC 3164) and journald's short(-precise): no year, no zone.
const BSD = /^(?:<\d+>)?(\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? /;

/** A time stamp at the start of a line and where the rest begins, or undefined when it has none. */
export interface Stamped {
  readonly time: number;
  readonly rest: number;
}

/** "2026-11-21T13:11:05.612345678Z " (nanoseconds: JavaScript keeps milliseconds). */
export function isoPrefix(line: string): Stamped | undefined {
  const m = ISO.exec(line);
  if (!m) return undefined;
  const zone = m[2] === 'Z' ? 'Z' : `${m[2].slice(0, 3)}:${m[2].slice(-2)}`;
  const time = Date.parse(`${m[1].replace(/(\.\d{3})\d+$/, '$1')}${zone}`);
  return Number.isNaN(time) ? undefined : { time, rest: m[0].length };
}

/**
 * "Nov 21 13:11:05 " or "<129>Nov 21 13:11:05.612345 ": read in the local zone; the year is
 * that of `yearHint` (a dated line of the same log) or, with none, the current one unless that
 * puts the line more than a day in the future (then the year before), as syslog readers do.
 */
export function bsdPrefix(line: string, yearHint?: number): Stamped | undefined {
  const m = BSD.exec(line);
  const month = m ? monthIndex(m[1]) : undefined;
  if (!m || month === undefined) return undefined;
  const ms = m[6] === undefined ? 0 : Number(m[6].slice(0, 3).padEnd(3, '0'));
  const at = (year: number) => localTime(year, month, Number(m[2]), +m[3], +m[4], +m[5], ms);
  let time: number;
  if (yearHint !== undefined) time = at(yearHint);
  else {
    const now = Date.now();
    time = at(new Date(now).getFullYear());
    if (time > now + 86_400_000) time = at(new Date(now).getFullYear() - 1);
  }
  return Number.isNaN(time) ? undefined : { time, rest: m[0].length };
}
