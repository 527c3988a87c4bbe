import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { localTime } from '../log-time.ts';

// 2024/01/10 12:00:00 [error] 1234#1234: *5 <message>, client: 127.0.0.1, server: x, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:3001/", host: "x"
const LINE = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$/;
const CLIENT = /, client: ([^,\s]+)/;
// The request line is written raw (a `"` in it included): it ends where the next field begins.
const REQUEST = /, request: "(.*?)"(?=, (?:subrequest|upstream|host|referrer): "|$)/;
const UPSTREAM = /, upstream: "([^"]*)"/;

type Rule = readonly [RegExp, FailureType | ((match: RegExpExecArray) => FailureType | undefined)];

/** How far the exchange got, from nginx's "while …" phrase: the same error means different things. */
const afterHead = (message: string) => / while reading upstream\b/.test(message);

/**
 * nginx's upstream error messages, mapped onto the taxonomy, first match wins. Client-side
 * errors ("while sending to client", "client prematurely closed") are not upstream failures.
 */
const RULES: readonly Rule[] = [
  [/\bno live upstreams\b/, 'destination_unavailable'],
  [/could not be resolved \((\d+): [^)]*\)/, (m) => (m[1] === '110' ? 'dns_timeout' : 'dns_error')],
  [/\bno resolver defined to resolve\b|\bhost not found in upstream\b/, 'dns_error'],
  [
    /upstream timed out .* while (?:connecting to upstream|SSL handshaking to upstream)/,
    'connection_timeout',
  ],
  [/upstream timed out .* while reading upstream/, 'connection_read_timeout'],
  [/upstream timed out/, 'http_response_timeout'],
  [
    /connect\(\) (?:to \S+ )?failed \((\d+): /,
    (m) =>
      m[1] === '113' || m[1] === '101' || m[1] === '65'
        ? 'destination_ip_unroutable'
        : m[1] === '110'
          ? 'connection_timeout'
          : m[1] === '99'
            ? 'connection_limit_reached'
            : 'connection_refused',
  ],
  [/upstream SSL certificate (?:verify error|does not match)/, 'tls_certificate_error'],
  [/SSL_do_handshake\(\) failed .*alert/, 'tls_alert_received'],
  [
    /SSL_do_handshake\(\) failed|peer closed connection in SSL handshake|while SSL handshaking to upstream/,
    'tls_protocol_error',
  ],
  [/upstream sent too big header/, 'http_response_header_section_size'],
  [
    /upstream sent (?:invalid chunked response|"Content-Length" and "Transfer-Encoding"|unknown "Transfer-Encoding"|duplicate header line: "Transfer-Encoding)/,
    'http_response_transfer_coding',
  ],
  [
    /upstream sent (?:invalid "Content-Length"|more data than specified|duplicate header line: "Content-Length)/,
    'http_response_content_length',
  ],
  [/upstream sent /, 'http_protocol_error'],
  [
    /upstream prematurely closed connection|\w+\(\) failed \(\d+: [^)]*\) while (?:reading response header from upstream|sending request to upstream|reading upstream)/,
    (m) => (afterHead(m.input) ? 'http_response_incomplete' : 'connection_terminated'),
  ],
  [/limiting (?:requests|connections)\b/, 'http_request_denied'],
  [/\bworker_connections are not enough\b/, 'connection_limit_reached'],
];

/** "http://10.0.0.5:3001/a?b" → "10.0.0.5:3001"; "http://backend/a" (a group with no live server) → "backend". */
function address(upstream: string): string {
  const rest = upstream.replace(/^[a-z]+:\/\//, '');
  const slash = rest.indexOf('/');
  return slash === -1 ? rest : rest.slice(0, slash);
}

function classify(message: string): FailureType | undefined {
  if (/\bclient prematurely closed\b|\bto client\b|\bfrom client\b|\bclient closed\b/.test(message))
    return undefined;
  for (const [pattern, type] of RULES) {
    const m = pattern.exec(message);
    if (m) return typeof type === 'string' ? type : type(m);
  }
  return undefined;
}

/**
 * nginx's error log: each upstream failure is one line, with no status; it is matched with
 * its access-log line by client and request line. Its time has no zone (read as local time).
 */
export const nginxErrorReader: LogReader = {
  format: 'nginx-error',
  title: 'nginx error log',
  sniff: (line) => LINE.test(line),
  read(line): LogRecord | undefined {
    const m = LINE.exec(line);
    if (!m) return undefined;
    const text = m[8];
    const cut = text.indexOf(', client: ');
    const failure = classify(cut === -1 ? text : text.slice(0, cut));
    if (failure === undefined) return undefined;
    const upstreamField = UPSTREAM.exec(text)?.[1];
    const unresolved = /^(\S+) could not be resolved/.exec(text)?.[1];
    const target = upstreamField === undefined ? unresolved : address(upstreamField);
    const client = CLIENT.exec(text)?.[1];
    const request = REQUEST.exec(text)?.[1];
    const time = localTime(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return {
      kind: 'attempt',
      time,
      failure,
      upstream: target,
      target,
      joinKey: client !== undefined && request !== undefined ? `${client} ${request}` : undefined,
    };
  },
  blindSpot:
    "nginx's error log has no durations and no zone in its dates (read as local time: set TZ to match).",
};
