import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { localTime, monthIndex } from '../log-time.ts';
import { bsdPrefix, healthEvent, isoPrefix } from './haproxy-health.ts';

// option httplog: %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
// behind an optional syslog header ("<134>Nov 21 13:11:00 haproxy[2814]: ", or rsyslog's with a host name).
// A backend's name holds no "/" (HAProxy allows letters, digits and "-_.:"): written `\S+` it
// could end at any "/" of a long run of them, and the line failing after, quadratic.
const HTTPLOG =
  /^(\S+):\d+ \[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d)\.(\d{3})\] \S+ ([^/\s]+)\/(\S+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/\+?(-?\d+) (-?\d+) \+?\d+ \S+ \S+ (\S{4}) (?:\d+\/\d+\/\d+\/\d+\/\+?(\d+) )?/;

/**
 * The termination state's first two characters (why the session ended, and at which phase),
 * mapped onto the taxonomy. HAProxy cannot tell a refused connection from a failed TLS
 * handshake (both are SC); `<NOSRV>` means no server was up to try. `headCame` is whether the
 * server's response head came (Tr ≥ 0; undefined when the format has no Tr): HAProxy's data
 * phase begins with the request body, so a D with no head is the upload's, not the answer's
 * (HAProxy 2.6, a server that reads none of a POST's body: `0/0/0/-1/1008 -1 … sD--`; one that
 * resets under it: `SD--`; one that read it all and never answers: `sH--`).
 */
export function haproxyFailure(
  state: string,
  status: number,
  server: string,
  headCame?: boolean,
): FailureType | undefined {
  const cause = state[0];
  const phase = state[1];
  const upload = phase === 'D' && headCame === false;
  switch (cause) {
    case 'S':
      if (phase === 'C') return server === '<NOSRV>' ? 'destination_unavailable' : 'connection_refused';
      if (upload) return 'connection_terminated';
      if (phase === 'D' || phase === 'L') return 'http_response_incomplete';
      if (phase === 'Q') return 'connection_limit_reached';
      return 'connection_terminated';
    case 's':
      if (phase === 'C') return 'connection_timeout';
      // The server took none of the request body for `timeout server`: Candor's timeouts.send.
      if (upload) return 'connection_write_timeout';
      if (phase === 'D' || phase === 'L') return 'connection_read_timeout';
      if (phase === 'Q') return 'connection_limit_reached';
      return 'http_response_timeout';
    case 'P':
      if (phase === 'H') return 'http_protocol_error';
      if (phase === 'D') return 'http_response_transfer_coding';
      // The process's socket limit met while connecting (its maxconn, its open-file limit): the proxy's own.
      if (phase === 'C') return 'proxy_resources_exhausted';
      return status === 400 || status === 408 || status === 413
        ? 'http_request_error'
        : 'http_request_denied';
    case 'R':
      // A resource of the proxy's own ran out (memory, sockets, source ports), not the backend's pool.
      return 'proxy_resources_exhausted';
    case 'I':
      return 'proxy_internal_error';
    case 'D':
      return 'destination_unavailable';
    case 'K':
    case 'U':
      return 'proxy_internal_response';
    case 'L':
      return status >= 500 ? 'proxy_internal_response' : undefined;
    case 'c':
      // HAProxy's client-side timeout (`timeout client`, `timeout http-request`): it cut a client
      // too slow to send its request or to take the answer, as Candor's limits.send_timeout cuts
      // one, logged http_request_error with client_aborted false. The client did not leave.
      // Whatever the phase: a client timeout told as nothing would vanish from the report.
      return 'http_request_error';
    case 'C':
      return phase === 'R' && status >= 400 && status < 500 ? 'http_request_error' : undefined;
    default:
      if (server === '<NOSRV>' && status === 503) return 'destination_unavailable';
      return undefined;
  }
}

const positive = (n: number) => (n > 0 ? n : 0);

/**
 * Whether HAProxy chose no backend for the request: it writes the frontend's name as %b then
 * (`fe_main fe_main/<NOSRV>`: a request refused or cut before routing, a `<BADREQ>`), which
 * is no upstream (an SSL frontend's %ft carries a `~` its name as %b does not).
 */
export function noBackend(text: string, backend: string, server: string | undefined): boolean {
  if (server !== '<NOSRV>') return false;
  const from = text.indexOf('] ') + 2;
  const to = text.indexOf(' ', from);
  const frontend = from < 2 || to === -1 ? '' : text.slice(from, to);
  return frontend === backend || frontend === `${backend}~`;
}

/** The message after a syslog header ("…haproxy[2814]: "), or the whole line when logged raw. */
function body(line: string): string {
  const tag = line.indexOf(']: ');
  return tag === -1 || tag > 120 ? line : line.slice(tag + 3);
}

let lastSecond = '';
let lastSecondMs = 0;
/** The year of the last request line: syslog headers have none. */
let lastYear: number | undefined;

/**
 * A server's or backend's health change HAProxy logged to the same target (its syslog, or
 * journald): the time is the header's ("<129>Nov 21 13:10:58 ", journald's short-iso), as
 * the message itself has none.
 */
function healthLine(line: string): LogRecord | undefined {
  const tag = line.indexOf(']: ');
  if (tag === -1 || tag > 120) return undefined;
  const stamp = isoPrefix(line) ?? bsdPrefix(line, lastYear);
  return stamp === undefined ? undefined : healthEvent(line.slice(tag + 3), stamp.time);
}

/**
 * HAProxy's default HTTP log format (`option httplog`), raw or behind a syslog header. The
 * termination state gives the failure; Tr (or, on a timeout, what Ta spent after the
 * connect) gives the wait on the server. Behind a syslog or journald header, its servers'
 * health changes ("Server be_app/s1 is DOWN, reason: …") are read too (haproxy-health.ts).
 */
export const haproxyReader: LogReader = {
  format: 'haproxy',
  title: 'HAProxy log (option httplog)',
  sniff: (line) => HTTPLOG.test(body(line)) || /haproxy\[\d+\]: /.test(line),
  read(line): LogRecord | undefined {
    const text = body(line);
    const m = HTTPLOG.exec(text);
    if (!m) return healthLine(line);
    const month = monthIndex(m[3]);
    if (month === undefined) return undefined;
    // Lines come in time order: each second is turned into a time once.
    const second = m[4] + m[3] + m[2] + m[5] + m[6] + m[7];
    if (second !== lastSecond) {
      lastSecond = second;
      lastSecondMs = localTime(+m[4], month, +m[2], +m[5], +m[6], +m[7]);
      lastYear = +m[4];
    }
    const server = m[10];
    const logged = +m[16];
    const status = logged < 0 ? 0 : logged;
    const state = m[17];
    const tAnswer = +m[14];
    // %rc: the connections HAProxy retried (on another server after a "+": redispatched), whose
    // failures it does not name; a dead server behind `option redispatch` shows nowhere else.
    const retries = m[18] === undefined ? 0 : +m[18];
    const failure = haproxyFailure(state, status, server, tAnswer >= 0);
    const waitMs =
      failure === 'http_response_timeout'
        ? +m[15] - positive(+m[11]) - positive(+m[12]) - positive(+m[13])
        : tAnswer >= 0
          ? tAnswer
          : undefined;
    return {
      kind: 'request',
      time: lastSecondMs + +m[8],
      status,
      upstream: noBackend(text, m[9], server) ? undefined : m[9],
      target: server === '<NOSRV>' ? undefined : `${m[9]}/${server}`,
      failure,
      waitMs,
      // C: the client left; c is HAProxy's client timeout, which cut a client still there.
      clientAborted: state[0] === 'C' || undefined,
      // In the data phase after the server's head came (a D with no head is the upload's).
      ...(state[0] === 'C' && (state[1] === 'D' || state[1] === 'L') && tAnswer >= 0
        ? { clientLeftMidAnswer: true as const }
        : {}),
      // The termination state names every answer HAProxy made itself; "--" is the server's.
      producedBy:
        status < 500
          ? undefined
          : failure !== undefined
            ? 'proxy'
            : state[0] === '-'
              ? 'upstream'
              : undefined,
      untypedRetries: retries > 0 ? retries : undefined,
    };
  },
  blindSpot:
    'HAProxy logs a failed TLS handshake to a server as a refused connection (SC), and its dates have no zone (read as local time: set TZ to match); syslog headers (the time of its health lines) have no year either, nor a resolution below the second.',
};
