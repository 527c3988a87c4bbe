import type { LogReader } from '../log-reader.ts';
import type { LogRecord, RequestLine } from '../log-record.ts';
import { finiteNumber, isoTime, nonEmpty, objectAt, parseObject } from './json-line.ts';

/**
 * Every line of Caddy's JSON logs (zap): level, then ts, in epoch seconds or, with the
 * encoder's `time_format` set, a date string.
 */
export const CADDY_LINE = /^\{"level":"\w+","ts":"?\d/;
const ACCESS_LOGGER = '"logger":"http.log.access';

/** A header's first value from Caddy's logged header map ({"X-Request-Id":["…"]}). */
export function header(headers: unknown, name: string): string | undefined {
  const values = objectAt(headers)?.[name];
  return Array.isArray(values) ? nonEmpty(values[0]) : undefined;
}

/**
 * The request a Caddy log line (access or error) is about: client address and port, method
 * and URI, the same in both lines of one request, so they join.
 */
export function caddyRequest(entry: Record<string, unknown>) {
  const request = objectAt(entry.request);
  const ip = nonEmpty(request?.remote_ip);
  const port = nonEmpty(request?.remote_port);
  const method = nonEmpty(request?.method);
  const uri = nonEmpty(request?.uri);
  return {
    joinKey: ip && method && uri ? `${ip}${port ? `:${port}` : ''} ${method} ${uri}` : undefined,
    requestId: header(request?.headers, 'X-Request-Id'),
    method,
  };
}

/** Caddy's `ts` as epoch ms: epoch seconds with a fraction (the default), or an ISO 8601 date. */
export function caddyTime(entry: Record<string, unknown>): number | undefined {
  const ts = finiteNumber(entry.ts);
  return ts === undefined ? isoTime(entry.ts) : ts * 1000;
}

/**
 * Caddy's access log in JSON (the `log` directive: logger "http.log.access…", msg "handled
 * request"). Recorded from the real Caddy 2.6.2 by test/kits/explain/fixtures/record-caddy.ts.
 *
 * Its 5xx carry no cause: Caddy writes that to its own log ("http.log.error" lines, read by
 * caddy-error-reader.ts and joined by client address, port and request line). Two things the
 * line itself shows: a response whose only header is Caddy's Server is Caddy's own (an
 * upstream's answer always brings its Date or Content-Length), and a 2xx whose body is shorter
 * than the Content-Length it announced was cut short.
 */
export const caddyAccessReader: LogReader = {
  format: 'caddy-access',
  title: 'Caddy access log (JSON)',
  sniff: (line) => CADDY_LINE.test(line) && line.includes(ACCESS_LOGGER),
  read(line): LogRecord | undefined {
    if (!line.includes(ACCESS_LOGGER)) return undefined;
    const entry = parseObject(line);
    if (entry === undefined || entry.msg !== 'handled request') return undefined;
    const time = caddyTime(entry);
    const status = finiteNumber(entry.status);
    if (time === undefined || status === undefined) return undefined;
    const { joinKey, requestId, method } = caddyRequest(entry);
    const size = finiteNumber(entry.size);
    const headers = objectAt(entry.resp_headers);
    const names = headers ? Object.keys(headers) : [];
    const announced = Number(header(headers, 'Content-Length'));
    const cut =
      status >= 200 &&
      status < 300 &&
      method !== 'HEAD' &&
      size !== undefined &&
      Number.isFinite(announced) &&
      size < announced;
    const duration = finiteNumber(entry.duration);
    const record: RequestLine = {
      kind: 'request',
      time,
      status,
      joinKey,
      requestId,
      failure: cut ? 'http_response_incomplete' : undefined,
      // Caddy's own answer has its Server header alone; one with the upstream's headers was passed
      // through, unless Caddy's own log names a failure for it (the join then makes it the proxy's,
      // and without that log explain does not take the headers' word: tally.ts).
      producedBy:
        status < 500 ? undefined : names.every((name) => name === 'Server') && !size ? 'proxy' : 'upstream',
      // The whole exchange, body included: an upper bound of the wait for the head.
      waitMs: duration === undefined ? undefined : duration * 1000,
    };
    return record;
  },
  causesIn: 'caddy-error',
  blindSpot:
    "Caddy's access log has no upstream and no cause for its 5xx: give Caddy's own log too (its http.log.error lines name each failure); its duration is the whole exchange, so timeout advice is rough.",
};
