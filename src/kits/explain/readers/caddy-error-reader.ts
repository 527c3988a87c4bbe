import type { FailureType } from '../../../core/failure/taxonomy.ts';
import type { LogReader } from '../log-reader.ts';
import type { LogRecord } from '../log-record.ts';
import { CADDY_LINE, caddyRequest, caddyTime } from './caddy-access-reader.ts';
import { finiteNumber, nonEmpty, parseObject } from './json-line.ts';

/**
 * Go's network and net/http error texts, as Caddy's reverse_proxy logs them, mapped onto the
 * taxonomy; first match wins (the lookup rules come before the dial ones: a lookup is dialled).
 * Each runs in one pass over the message: a literal, then repeats that stop at a character they
 * cannot hold (a space); none scans to the end from each of many places (`lookup \S+ on \S+: .*`
 * did, and a message repeating its start took seconds: a lookup's timeout is found by goNetFailure).
 */
const RULES: ReadonlyArray<readonly [RegExp, FailureType]> = [
  [/\blookup \S+(?: on \S+)?: (?:no such host|server misbehaving)|\bno such host\b/, 'dns_error'],
  // A Unix socket (`reverse_proxy unix//run/app.sock`, php_fastcgi): none listens on it, or its
  // file is not there (the app is not running, or the path is wrong).
  [
    /\bdial (?:tcp|unix) \S*: connect: connection refused|\bdial unix \S*: connect: no such file or directory/,
    'connection_refused',
  ],
  // EACCES / EPERM: Caddy's own machine forbade the connect (a socket's permissions, SELinux, a
  // firewall rule): nothing refused it; Candor's classifier (classify.ts) says the same.
  [
    /\bdial (?:tcp|unix) \S*: connect: (?:no route to host|network is unreachable|permission denied|operation not permitted)/,
    'destination_ip_unroutable',
  ],
  [/\bdial tcp \S*: (?:i\/o timeout|connect: connection timed out)/, 'connection_timeout'],
  // Caddy's own machine ran out (no local port, no file descriptor, no socket memory): not the
  // upstream's pool, and the upstream was never asked (Candor's proxy_resources_exhausted).
  [
    /\bdial tcp \S*: (?:connect: cannot assign requested address|socket: (?:too many open files|no buffer space available))/,
    'proxy_resources_exhausted',
  ],
  [/timeout awaiting response headers|\bread tcp \S+: i\/o timeout/, 'http_response_timeout'],
  [/\bx509: |tls: failed to verify certificate/, 'tls_certificate_error'],
  [/\bremote error: tls: /, 'tls_alert_received'],
  [/\btls: |TLS handshake/, 'tls_protocol_error'],
  [/server response headers exceeded/, 'http_response_header_section_size'],
  [/invalid Content-Length|bad Content-Length/, 'http_response_content_length'],
  [/transfer encoding|Transfer-Encoding|invalid byte in chunk length/, 'http_response_transfer_coding'],
  [/\bmalformed (?:HTTP|MIME)|\bunexpected 1\w\w response|server sent unparseable/, 'http_protocol_error'],
  [
    /connection reset by peer|broken pipe|^(?:unexpected )?EOF$|: EOF$|server closed idle connection|transport connection broken/,
    'connection_terminated',
  ],
  [/\bno upstreams available\b/, 'destination_unavailable'],
];

/** A line from one of Caddy's own loggers (its HTTP app, admin API, TLS and PKI apps, events). */
const CADDY_LOGGER = /"logger":"(?:http|admin|tls|pki|events|caddy)(?:[."])/;

/** The failure a Caddy error message names, or undefined (a client that left, a 404 from a file server…). */
export function goNetFailure(message: string): FailureType | undefined {
  if (/context canceled/.test(message)) return undefined;
  const lookup = /\blookup \S+ on \S+: /.exec(message);
  if (
    lookup &&
    (message.includes('i/o timeout', lookup.index) || message.includes('timed out', lookup.index))
  )
    return 'dns_timeout';
  for (const [pattern, type] of RULES) if (pattern.test(message)) return type;
  return undefined;
}

/**
 * "dial tcp 127.0.0.1:3001: connect: …" → 127.0.0.1:3001; "read tcp a->b: …" → b; a Unix
 * socket, "dial unix /run/app.sock: …" or "read unix @->/run/app.sock: …" → unix:/run/app.sock.
 */
function addressIn(message: string): string | undefined {
  // The words up to ": ", then what follows the last "->" in them: split by hand, since
  // `(?:\S+->)?(\S+?): ` backtracks quadratically on a long run of "->".
  const m = /\b(?:dial|read|write) (tcp|unix) (\S+): /.exec(message);
  if (m) {
    const arrow = m[2].lastIndexOf('->');
    const address = arrow === -1 ? m[2] : m[2].slice(arrow + 2);
    return m[1] === 'unix' ? `unix:${address}` : address;
  }
  return nonEmpty(/\blookup (\S+?)(?: on |: )/.exec(message)?.[1]);
}

/**
 * Caddy's own log in JSON (its default logger, or `log default { output file … format json }`):
 * startup and TLS lines, and for each request a handler failed, one "http.log.error…" line
 * whose msg is the Go error ("dial tcp 127.0.0.1:3001: connect: connection refused", "net/http:
 * timeout awaiting response headers"), with the request, its status and duration. Recorded
 * from the real Caddy 2.6.2 by test/kits/explain/fixtures/record-caddy.ts.
 *
 * Each error line is a failed attempt, joined to its access-log line by client address, port
 * and request line (and request id when an X-Request-Id was logged). reverse_proxy's own
 * "aborting with incomplete response" lines name no request: the access line shows the cut.
 */
export const caddyErrorReader: LogReader = {
  format: 'caddy-error',
  title: "Caddy's log (JSON: http.log.error lines)",
  sniff: (line) => CADDY_LINE.test(line) && !line.includes('"logger":"http.log.access'),
  read(line): LogRecord | undefined {
    if (!line.includes('"logger":"http.log.error')) return undefined;
    const entry = parseObject(line);
    const message = entry && nonEmpty(entry.msg);
    if (entry === undefined || message === undefined) return undefined;
    const status = finiteNumber(entry.status);
    const time = caddyTime(entry);
    if (time === undefined || (status !== undefined && status < 500)) return undefined;
    const failure = goNetFailure(message);
    if (failure === undefined) return undefined;
    const target = addressIn(message);
    const { joinKey, requestId } = caddyRequest(entry);
    return { kind: 'attempt', time, failure, upstream: target, target, joinKey, requestId };
  },
  // Any Go program logging with zap's production encoder writes {"level":…,"ts":…} lines too:
  // the file is Caddy's only when its first lines name one of Caddy's loggers.
  refuse(sample) {
    if (sample.some((line) => CADDY_LOGGER.test(line))) return undefined;
    return `JSON lines in zap's shape ("level", "ts"), but none of its first ${sample.length} names one of Caddy's loggers ("logger": "http…", "admin", "tls…", "pki…"): not Caddy's log, and not a format explain reads`;
  },
  blindSpot:
    "Caddy's log gives each failure's cause and address but not the upstream's name; a dial timeout is logged 502 (Candor answers 504). Where access lines share Caddy's log (no output of their own, as in journald), split them first: grep -F '\"logger\":\"http.log.access' caddy.log > access.log.",
};
