import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { parseCommonLogTime } from '../log-time.ts';
import { listValues, nginxLineFailure, nginxProducer, nginxUnescape } from './nginx-log-format.ts';

// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
// Anchored, and each repeat stops at a character it cannot hold (a space, "]", a quote): one
// way to match, so no backtracking.
export const COMBINED_LINE = /^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (?:\d+|-) "[^"]*" "[^"]*"/;

/**
 * What may follow combined: only key=value pairs and quoted strings (the nginx image's "main"
 * adds "$http_x_forwarded_for"); a line with anything else after combined is another format
 * (ingress-nginx's, a custom log_format), read with --log-format or --nginx-conf. Read by hand in
 * one pass: the regular expression that said the same (`(?: (?:\w+=(?:"[^"]*"|\S*)|"[^"]*"))*$`)
 * could read `a=""` two ways, and backtracked exponentially on a line that failed at its end
 * (a 244-byte line took 12 s).
 * Returns the pairs, or undefined when the tail is not of that shape.
 */
function extras(line: string, from: number): Map<string, string> | undefined {
  const found = new Map<string, string>();
  let at = from;
  while (at < line.length) {
    if (line.charCodeAt(at) !== 0x20) return undefined;
    at++;
    if (line.charCodeAt(at) === 0x22) {
      const close = line.indexOf('"', at + 1);
      if (close === -1) return undefined;
      at = close + 1;
      continue;
    }
    const key = at;
    while (at < line.length && isWordChar(line.charCodeAt(at))) at++;
    if (at === key || line.charCodeAt(at) !== 0x3d) return undefined;
    const name = line.slice(key, at);
    at++;
    if (line.charCodeAt(at) === 0x22) {
      const close = line.indexOf('"', at + 1);
      if (close === -1) return undefined;
      found.set(name, line.slice(at + 1, close));
      at = close + 1;
    } else {
      const space = line.indexOf(' ', at);
      const end = space === -1 ? line.length : space;
      found.set(name, line.slice(at, end));
      at = end;
    }
  }
  return found;
}

/** \w: a letter, a digit or "_". */
const isWordChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;

const TIMING_KEYS = {
  header: ['uht', 'upstream_header_time'],
  answer: ['urt', 'upstream_response_time'],
  address: ['ua', 'upstream_addr', 'upstream'],
  status: ['us', 'upstream_status'],
  connect: ['uct', 'upstream_connect_time'],
};

/**
 * The last of nginx's per-attempt values ("0.001, 0.002" after a retry; "- : 0.001" after an
 * internal redirect, error_page or X-Accel-Redirect, to another location's upstream), or
 * undefined for "-". Split at the comma alone, "[::1]:9 : [::1]:8" was one target of that name.
 */
function lastValue(value: string | undefined): string | undefined {
  const last = listValues(value).at(-1)?.trim();
  return last === undefined || last === '' || last === '-' ? undefined : last;
}

function seconds(value: string | undefined): number | undefined {
  const text = lastValue(value);
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n * 1000 : undefined;
}

const pick = (map: Map<string, string>, keys: readonly string[]) =>
  keys.map((k) => map.get(k)).find((v) => v !== undefined);

let lastStamp = '';
let lastTime: number | undefined;

/**
 * nginx's default access log format, "combined". It says nothing of upstreams or timings, so
 * its 5xx get their cause from the error log (matched by client and request line). Timing and
 * upstream fields added after it as key=value pairs (`urt="$upstream_response_time"`,
 * `uht=`, `ua="$upstream_addr"`) are read when present.
 */
export const nginxAccessReader: LogReader = {
  format: 'nginx-access',
  title: 'nginx access log (combined)',
  sniff: (line) => {
    const m = COMBINED_LINE.exec(line);
    return m !== null && extras(line, m[0].length) !== undefined;
  },
  read(line): LogRecord | undefined {
    const m = COMBINED_LINE.exec(line);
    const more = m && extras(line, m[0].length);
    if (!m || !more) return undefined;
    if (m[2] !== lastStamp) {
      lastStamp = m[2];
      lastTime = parseCommonLogTime(m[2]);
    }
    if (lastTime === undefined) return undefined;
    const status = Number(m[4]);
    const addresses = pick(more, TIMING_KEYS.address);
    const address = lastValue(addresses);
    const attempts = listValues(addresses).length;
    const upstreamStatus = pick(more, TIMING_KEYS.status);
    const waitMs = seconds(pick(more, TIMING_KEYS.header)) ?? seconds(pick(more, TIMING_KEYS.answer));
    return {
      kind: 'request',
      time: lastTime,
      status,
      upstream: address,
      target: address,
      // The error log writes the request line raw, the access log escaped: joined unescaped.
      joinKey: `${m[1]} ${nginxUnescape(m[3])}`,
      waitMs,
      failure: nginxLineFailure(status, m[3]),
      clientAborted: status === 499 || undefined,
      producedBy: nginxProducer(
        status,
        addresses,
        upstreamStatus,
        pick(more, TIMING_KEYS.header),
        pick(more, TIMING_KEYS.connect),
      ),
      attempts: attempts > 1 ? attempts : undefined,
    };
  },
  causesIn: 'nginx-error',
  blindSpot:
    'nginx\'s "combined" format has no upstream or timings: give the error log too for the causes, and add "$upstream_addr" and "$upstream_header_time" to the log_format (as ua="…" uht="…") for upstreams and a timeout suggestion (or read any log_format with --nginx-conf or --log-format). nginx writes its own status into $upstream_status when it got no answer: a 5xx is the upstream\'s own only when the error log, read with it, has no line for the request.',
};
