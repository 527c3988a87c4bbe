import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { parseCommonLogTime } from '../log-time.ts';
import { listValues, nginxProducer, nginxUnescape } from './nginx-log-format.ts';

// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
// Only key=value pairs and quoted strings may follow it (the nginx image's "main" adds
// "$http_x_forwarded_for"): a line with anything else after combined is another format
// (ingress-nginx's, a custom log_format), read with --log-format or --nginx-conf.
const COMBINED =
  /^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (?:\d+|-) "[^"]*" "[^"]*"((?: (?:\w+=(?:"[^"]*"|\S*)|"[^"]*"))*)$/;
// key=value or key="value" pairs operators add after combined (rt=$request_time ua="$upstream_addr"...).
const EXTRA = / (\w+)=(?:"([^"]*)"|(\S*))/g;

const TIMING_KEYS = {
  header: ['uht', 'upstream_header_time'],
  response: ['urt', 'upstream_response_time'],
  address: ['ua', 'upstream_addr', 'upstream'],
  status: ['us', 'upstream_status'],
  connect: ['uct', 'upstream_connect_time'],
};

/** The last of nginx's comma-separated per-attempt values ("0.001, 0.002" after a retry), or undefined for "-". */
function lastValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const last = value.slice(value.lastIndexOf(',') + 1).trim();
  return last === '' || last === '-' ? undefined : last;
}

function seconds(value: string | undefined): number | undefined {
  const text = lastValue(value);
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n * 1000 : undefined;
}

function extras(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of text.matchAll(EXTRA)) found.set(m[1], m[2] ?? m[3]);
  return found;
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
  sniff: (line) => COMBINED.test(line),
  read(line): LogRecord | undefined {
    const m = COMBINED.exec(line);
    if (!m) return undefined;
    if (m[2] !== lastStamp) {
      lastStamp = m[2];
      lastTime = parseCommonLogTime(m[2]);
    }
    if (lastTime === undefined) return undefined;
    const status = Number(m[4]);
    const more = m[5] ? extras(m[5]) : undefined;
    const addresses = more && pick(more, TIMING_KEYS.address);
    const address = lastValue(addresses);
    const attempts = listValues(addresses).length;
    const upstreamStatus = more && pick(more, TIMING_KEYS.status);
    const waitMs =
      more && (seconds(pick(more, TIMING_KEYS.header)) ?? seconds(pick(more, TIMING_KEYS.response)));
    return {
      kind: 'request',
      time: lastTime,
      status,
      upstream: address,
      target: address,
      // The error log writes the request line raw, the access log escaped: joined unescaped.
      joinKey: `${m[1]} ${nginxUnescape(m[3])}`,
      waitMs,
      clientAborted: status === 499 || undefined,
      producedBy:
        more &&
        nginxProducer(
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
