import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { localTime } from '../log-time.ts';

// 2024/01/10 12:00:00 [error] 1234#1234: *5 <message>, client: 127.0.0.1, server: x, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:3001/", host: "x"
// Every pattern here runs in one pass: anchored with each repeat stopped by a character it
// cannot hold, or a literal search; none scans to the end of the line from each of many places
// (an unanchored `.*?` or `[^"]*` after a literal the line repeats is quadratic: a 938 KiB line
// took 18.7 s). Longer texts are cut with indexOf.
const LINE = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] \d+#\d+: (?:\*\d+ )?/;
const CLIENT = /, client: ([^,\s]+)/;

/** The fields nginx may write after the request line: it is written raw (a `"` in it included) and ends where one begins. */
const AFTER_REQUEST = ['subrequest', 'upstream', 'host', 'referrer'].map((name) => `, ${name}: "`);

/** The request line: from `, request: "` to the first `"` that ends the line or opens one of AFTER_REQUEST. */
function requestOf(text: string): { line: string; end: number } | undefined {
  const start = text.indexOf(', request: "');
  if (start === -1) return undefined;
  const from = start + ', request: "'.length;
  for (let quote = text.indexOf('"', from); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    if (quote === text.length - 1 || AFTER_REQUEST.some((field) => text.startsWith(field, quote + 1)))
      return { line: text.slice(from, quote), end: quote + 1 };
  }
  return undefined;
}

/** The upstream field's value, looked for after the request line (which may hold any text). */
function upstreamOf(text: string, from: number): string | undefined {
  const start = text.indexOf(', upstream: "', from);
  if (start === -1) return undefined;
  const close = text.indexOf('"', start + ', upstream: "'.length);
  return close === -1 ? undefined : text.slice(start + ', upstream: "'.length, close);
}

type Rule = readonly [RegExp, FailureType | ((match: RegExpExecArray) => FailureType | undefined)];

/** How far the exchange got, from nginx's "while …" phrase: the same error means different things. */
const afterHead = (message: string) => / while reading upstream\b/.test(message);

/** nginx's limit_req and limit_conn refusing a request. */
const LIMITING = /limiting (?:requests|connections)\b/;

/**
 * nginx's upstream error messages, mapped onto the taxonomy, first match wins. Client-side
 * errors ("while sending to client", "client prematurely closed") are not upstream failures.
 */
const RULES: readonly Rule[] = [
  [/\bno live upstreams\b/, 'destination_unavailable'],
  [/could not be resolved \((\d+): /, (m) => (m[1] === '110' ? 'dns_timeout' : 'dns_error')],
  [/\bno resolver defined to resolve\b|\bhost not found in upstream\b/, 'dns_error'],
  [
    / while (?:connecting to upstream|SSL handshaking to upstream)/,
    (m) => (m.input.includes('upstream timed out') ? 'connection_timeout' : undefined),
  ],
  [
    / while reading upstream/,
    (m) => (m.input.includes('upstream timed out') ? 'connection_read_timeout' : undefined),
  ],
  // proxy_send_timeout: the upstream took none of the request for that long (Candor's timeouts.send).
  [
    / while sending request to upstream/,
    (m) => (m.input.includes('upstream timed out') ? 'connection_write_timeout' : undefined),
  ],
  [/upstream timed out/, 'http_response_timeout'],
  // nginx's own resources ran out before the connect (no file descriptor: 24 EMFILE, 23 ENFILE;
  // no socket memory: 105 ENOBUFS), or the connect found no local port (99 EADDRNOTAVAIL), as
  // Candor's proxy_resources_exhausted says of itself: the upstream was never asked.
  [/(?:socket|connect)\(\) (?:to \S+ )?failed \((?:23|24|99|105): /, 'proxy_resources_exhausted'],
  [
    /connect\(\) (?:to \S+ )?failed \((\d+): /,
    // 13 EACCES and 1 EPERM: nginx's own machine forbade the connect (SELinux's
    // httpd_can_network_connect, a prohibit route, a firewall rule): nothing refused it, and
    // Candor's classifier (classify.ts) names those destination_ip_unroutable too.
    (m) =>
      m[1] === '113' || m[1] === '101' || m[1] === '65' || m[1] === '13' || m[1] === '1'
        ? 'destination_ip_unroutable'
        : m[1] === '110'
          ? 'connection_timeout'
          : 'connection_refused',
  ],
  [/upstream SSL certificate (?:verify error|does not match)/, 'tls_certificate_error'],
  [
    /SSL_do_handshake\(\) failed /,
    (m) => (m.input.includes('alert', m.index) ? 'tls_alert_received' : 'tls_protocol_error'),
  ],
  [/peer closed connection in SSL handshake|while SSL handshaking to upstream/, 'tls_protocol_error'],
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
    /upstream prematurely closed connection/,
    (m) => (afterHead(m.input) ? 'http_response_incomplete' : 'connection_terminated'),
  ],
  // "recv() failed (104: Connection reset by peer) while reading response header from upstream"
  [
    /\(\) failed \(\d+: /,
    (m) => {
      const phase =
        / while (?:reading response header from upstream|sending request to upstream|reading upstream)/.exec(
          m.input.slice(m.index),
        );
      if (phase === null) return undefined;
      return afterHead(phase[0]) ? 'http_response_incomplete' : 'connection_terminated';
    },
  ],
  [LIMITING, 'http_request_denied'],
  // nginx's own connection limit per worker, not the upstream's pool.
  [/\bworker_connections are not enough\b/, 'proxy_resources_exhausted'],
];

/**
 * "http://10.0.0.5:3001/a?b" → "10.0.0.5:3001"; "http://backend/a" (a group with no live server)
 * → "backend"; a Unix socket, "http://unix:/run/app.sock:/a" (nginx's `unix:PATH:URI`) →
 * "unix:/run/app.sock".
 */
function address(upstream: string): string {
  const rest = upstream.replace(/^[a-z]+:\/\//, '');
  if (rest.startsWith('unix:')) {
    const end = rest.indexOf(':', 'unix:'.length);
    return end === -1 ? rest : rest.slice(0, end);
  }
  const slash = rest.indexOf('/');
  return slash === -1 ? rest : rest.slice(0, slash);
}

function classify(message: string): FailureType | undefined {
  if (/\bclient prematurely closed\b|\bto client\b|\bfrom client\b|\bclient closed\b/.test(message))
    return undefined;
  for (const [pattern, type] of RULES) {
    const m = pattern.exec(message);
    if (!m) continue;
    const found = typeof type === 'string' ? type : type(m);
    if (found !== undefined) return found;
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
    const text = line.slice(m[0].length);
    const cut = text.indexOf(', client: ');
    const failure = classify(cut === -1 ? text : text.slice(0, cut));
    if (failure === undefined) return undefined;
    const found = requestOf(text);
    const request = found?.line;
    const upstreamField = upstreamOf(text, found?.end ?? 0);
    const unresolved = /^(\S+) could not be resolved/.exec(text)?.[1];
    const target = upstreamField === undefined ? unresolved : address(upstreamField);
    const client = CLIENT.exec(text)?.[1];
    const time = localTime(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return {
      kind: 'attempt',
      time,
      failure,
      // limit_req's and limit_conn's refusals, logged 503 by default: a limit, not a deny rule.
      ...(failure === 'http_request_denied' && LIMITING.test(text) ? { limit: true as const } : {}),
      upstream: target,
      target,
      joinKey: client !== undefined && request !== undefined ? `${client} ${request}` : undefined,
    };
  },
  blindSpot:
    "nginx's error log has no durations and no zone in its dates (read as local time: set TZ to match).",
};
